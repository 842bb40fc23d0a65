"""`hilight merge-lora`: fold a LoRA adapter into its base model and save a standalone checkpoint.

    hilight merge-lora --adapter runs/instruct --out hilight-merged [--base runs/align]
                       [--push-to-hub org/name --base-model google/gemma-2b [--license gemma]]

The result loads with `AutoModelForImageTextToText.from_pretrained` (or `HiLightForConditionalGeneration`)
without PEFT; its folder also holds the processor and the model card (README.md), and `--push-to-hub`
uploads that folder in one commit (training/hub.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .hub import model_card, push_folder, save_for_hub


def merge_peft_model(peft_model, processor, out_dir, base_model=None, license=None) -> Path:
    """Merge a trained PEFT model (left untouched) into a plain copy and save it with the processor and
    the model card (`base_model`, `license`: its metadata; see hub.model_card)."""
    import copy

    merged = copy.deepcopy(peft_model).merge_and_unload()
    out = Path(out_dir)
    save_for_hub(merged, processor, out, model_card(merged, base_model=base_model, license=license))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", required=True, help="folder with adapter_config.json (the instruct stage output)")
    parser.add_argument("--base", help="base model folder; default: the adapter's base_model_name_or_path")
    parser.add_argument("--out", required=True)
    parser.add_argument("--push-to-hub", metavar="REPO", help="also upload the merged folder to this Hub repo")
    parser.add_argument("--base-model", nargs="+", metavar="ID",
                        help="the Hub id(s) the weights derive from, for the card (needed with --push-to-hub)")
    parser.add_argument("--license", help="the card's license; default: gemma for a Gemma LLM, else apache-2.0")


def run(args: argparse.Namespace) -> int:
    import json

    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import modeling_hilight  # noqa: F401  (registers the HiLight classes)

    if args.push_to_hub and not args.base_model:
        raise SystemExit("hilight merge-lora: --push-to-hub needs --base-model ID (the Hub id the weights derive "
                         "from, e.g. google/gemma-2b) for the model card")  # fmt: skip
    base_path = args.base or json.loads((Path(args.adapter) / "adapter_config.json").read_text())["base_model_name_or_path"]
    if not base_path or not Path(base_path).exists():
        raise SystemExit(f"hilight merge-lora: base model {base_path!r} not found; pass --base FOLDER")
    base = AutoModelForImageTextToText.from_pretrained(base_path)
    model = PeftModel.from_pretrained(base, args.adapter)
    processor = AutoProcessor.from_pretrained(args.adapter) if (Path(args.adapter) / "processor_config.json").exists() else None
    base_model = args.base_model[0] if args.base_model and len(args.base_model) == 1 else args.base_model
    out = merge_peft_model(model, processor, args.out, base_model=base_model, license=args.license)
    print(f"wrote the merged model to {out}")
    if args.push_to_hub:
        push_folder(out, args.push_to_hub)
        print(f"pushed to {args.push_to_hub}")
    return 0
