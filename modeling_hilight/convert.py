"""`hilight convert`: published checkpoints -> folders that load with `from_pretrained`.

    hilight convert clip-vip  --checkpoint pretrain_clipvip_base_16.pt --tokenizer clip-vit-base-patch16 \
                              --out clip-vip-plus-b16
    hilight convert clip-vip  --from-clip path/to/clip-vit-base-patch16 --out clip-vip-plus-b16
    hilight convert long-clip --checkpoint longclip-B.pt --out long-clip-b
    hilight convert hilight   --clip-vip pretrain_clipvip_base_16.pt --long-clip longclip-B.pt \\
                              --token-mining token_mining.bin --language-model gemma-2b-merged \\
                              [--exact-gelu] --out hilight-2b   (model and processor; <video> takes Gemma's <unused0>)
"""

import argparse

KINDS = ("clip-vip", "long-clip", "hilight")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="what to convert")
    parser.add_argument("--out", required=True, help="output folder (written with save_pretrained)")
    parser.add_argument("--checkpoint", help="clip-vip / long-clip: the published checkpoint file")
    parser.add_argument("--from-clip", help="clip-vip only: a transformers CLIPModel folder to start from")
    parser.add_argument("--tokenizer", help="clip-vip: the CLIP tokenizer folder; fills pad/eos and the stop-word ids "
                        "of the language mask (default with --from-clip: that folder's tokenizer); hilight: the LLM's "
                        "tokenizer folder (default: the --language-model folder)")
    parser.add_argument("--exact-gelu", action="store_true", help="hilight: run Gemma with exact GELU, as the "
                        "reference did (transformers 4.38); transformers 5 uses the tanh approximation")
    parser.add_argument("--clip-vip", help="hilight: the CLIP-ViP checkpoint")
    parser.add_argument("--long-clip", help="hilight: the Long-CLIP checkpoint")
    parser.add_argument("--token-mining", help="hilight: the released token-mining .bin")
    parser.add_argument("--language-model", help="hilight: a transformers causal-LM folder (the merged Gemma)")
    parser.add_argument("--video-token-id", type=int, help="hilight: the id of <video>; then only the model is written")


def run(args: argparse.Namespace) -> int:
    if args.kind == "clip-vip":
        from .convert_clip_vip import clip_vip_plus_from_clip, convert_clip_vip_checkpoint

        if bool(args.checkpoint) == bool(args.from_clip):
            raise SystemExit("hilight convert clip-vip: give exactly one of --checkpoint or --from-clip")
        if args.checkpoint:
            model = convert_clip_vip_checkpoint(args.checkpoint, tokenizer=args.tokenizer)
        else:
            model = clip_vip_plus_from_clip(args.from_clip, tokenizer=args.tokenizer)
    elif args.kind == "long-clip":
        from .convert_long_clip import convert_long_clip_checkpoint

        if not args.checkpoint:
            raise SystemExit("hilight convert long-clip: --checkpoint is required")
        model = convert_long_clip_checkpoint(args.checkpoint)
    else:
        from .convert_hilight import assemble_hilight

        missing = [f"--{k.replace('_', '-')}" for k in ("clip_vip", "long_clip", "token_mining", "language_model")
                   if not getattr(args, k)]  # fmt: skip
        if missing:
            raise SystemExit(f"hilight convert hilight: missing {', '.join(missing)}")
        if args.video_token_id is None:
            from .convert_hilight import convert_hilight

            model, _ = convert_hilight(args.clip_vip, args.long_clip, args.token_mining, args.language_model,
                                       args.out, tokenizer=args.tokenizer, exact_gelu=args.exact_gelu)  # fmt: skip
            print(f"wrote {type(model).__name__} and its processor to {args.out}")
            return 0
        model = assemble_hilight(args.clip_vip, args.long_clip, args.token_mining, args.language_model,
                                 video_token_id=args.video_token_id, exact_gelu=args.exact_gelu)  # fmt: skip
    model.save_pretrained(args.out)
    print(f"wrote {type(model).__name__} ({sum(p.numel() for p in model.parameters()):,} parameters) to {args.out}")
    return 0
