"""`hilight merge-lora`: fold a LoRA adapter into its base model and save a standalone checkpoint.

    hilight merge-lora --adapter runs/instruct --out hilight-merged [--base runs/align] [--push-to-hub org/name]

The result loads with `AutoModelForImageTextToText.from_pretrained` (or `HiLightForConditionalGeneration`)
without PEFT; its folder also holds the processor and the model card.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def merge_peft_model(peft_model, processor, out_dir) -> Path:
    """Merge a trained PEFT model (left untouched) into a plain copy and save it with the processor."""
    import copy

    merged = copy.deepcopy(peft_model).merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(str(out))
    if processor is not None:
        processor.save_pretrained(str(out))
    card = Path(__file__).resolve().parents[1] / "model_card.md"
    if card.exists():
        shutil.copy(card, out / "README.md")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", required=True, help="folder with adapter_config.json (the instruct stage output)")
    parser.add_argument("--base", help="base model folder; default: the adapter's base_model_name_or_path")
    parser.add_argument("--out", required=True)
    parser.add_argument("--push-to-hub", metavar="REPO", help="also upload the merged folder to this Hub repo")


def run(args: argparse.Namespace) -> int:
    import json

    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import modeling_hilight  # noqa: F401  (registers the HiLight classes)

    base_path = args.base or json.loads((Path(args.adapter) / "adapter_config.json").read_text())["base_model_name_or_path"]
    if not base_path or not Path(base_path).exists():
        raise SystemExit(f"hilight merge-lora: base model {base_path!r} not found; pass --base FOLDER")
    base = AutoModelForImageTextToText.from_pretrained(base_path)
    model = PeftModel.from_pretrained(base, args.adapter)
    processor = AutoProcessor.from_pretrained(args.adapter) if (Path(args.adapter) / "processor_config.json").exists() else None
    out = merge_peft_model(model, processor, args.out)
    print(f"wrote the merged model to {out}")
    if args.push_to_hub:
        from huggingface_hub import HfApi

        HfApi().upload_folder(folder_path=str(out), repo_id=args.push_to_hub, repo_type="model")
        print(f"pushed to {args.push_to_hub}")
    return 0
