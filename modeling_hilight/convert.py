"""`hilight convert`: published checkpoints -> folders that load with `from_pretrained`.

    hilight convert clip-vip --checkpoint pretrain_clipvip_base_16.pt --out clip-vip-b16
    hilight convert clip-vip --from-clip path/to/clip-vit-base-patch16 --out clip-vip-plus-b16
"""

import argparse

KINDS = ("clip-vip",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="what to convert")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a published checkpoint file (.pt/.bin/.safetensors)")
    source.add_argument("--from-clip", help="clip-vip only: a transformers CLIPModel folder to start from")
    parser.add_argument("--out", required=True, help="output folder (written with save_pretrained)")


def run(args: argparse.Namespace) -> int:
    from .convert_clip_vip import clip_vip_plus_from_clip, convert_clip_vip_checkpoint

    if args.checkpoint:
        model = convert_clip_vip_checkpoint(args.checkpoint)
    else:
        model = clip_vip_plus_from_clip(args.from_clip)
    model.save_pretrained(args.out)
    print(f"wrote {type(model).__name__} ({sum(p.numel() for p in model.parameters()):,} parameters) to {args.out}")
    return 0
