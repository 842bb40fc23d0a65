"""The models that ship inside the package, and loading any checkpoint folder for the tools.

    modeling_hilight/bundled/hilight/         a HiLight checkpoint: weights, config, processor, model card
    modeling_hilight/bundled/clip_vip_plus/   the CLIP-ViP+ encoder it was built from, with its processor

`load_bundled()` and `load_bundled_encoder()` return `(model, processor)`; the folders also load
with `from_pretrained`. `hilight chat`, `eval` and `demo` use the bundled model unless `--model`
names another checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
BUNDLED = {"hilight": BUNDLED_DIR / "hilight", "clip_vip_plus": BUNDLED_DIR / "clip_vip_plus"}


class ModelLoadError(ValueError):
    """A model folder that cannot be used; the message names the folder and the reason."""


def bundled_folder(name: str = "hilight") -> Path:
    """The shipped checkpoint folder `name` ("hilight" or "clip_vip_plus"); raises ModelLoadError if absent."""
    folder = BUNDLED[name]
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"{folder}: the bundled {name} model is not in this installation (no config.json). Build it with "
            f"`make bundled-model`, or pass a checkpoint folder with --model."
        )
    return folder


def model_type_of(folder: str | os.PathLike) -> str:
    """`hilight` or `clip_vip_plus` (from config.json), with a clear error for anything else."""
    import json

    folder = Path(folder)
    if not folder.exists():
        raise ModelLoadError(f"{folder}: no such model folder.")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder}: not a checkpoint folder (no config.json).")
    try:
        kind = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{folder}: config.json cannot be read ({error}).") from error
    if kind not in ("hilight", "clip_vip_plus"):
        raise ModelLoadError(f"{folder}: model_type {kind!r} is neither 'hilight' nor 'clip_vip_plus'.")
    return kind


def load_processor(folder: str | os.PathLike):
    """The HiLightProcessor saved in `folder`."""
    from .processing import HiLightProcessor

    folder = Path(folder)
    if not (folder / "processor_config.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        raise ModelLoadError(f"{folder}: has no processor files (processor_config.json, tokenizer); save the "
                             f"processor next to the model (`processor.save_pretrained(folder)`).")  # fmt: skip
    return HiLightProcessor.from_pretrained(str(folder))


def load_model(folder: str | os.PathLike, **kwargs):
    """`(model, processor)` from a HiLight or CLIP-ViP+ checkpoint folder, in eval mode.
    `kwargs` go to `from_pretrained` (for example `dtype`)."""
    from . import CLIPViPPlusModel, HiLightForConditionalGeneration

    kind = model_type_of(folder)
    processor = load_processor(folder)
    model_class = HiLightForConditionalGeneration if kind == "hilight" else CLIPViPPlusModel
    return model_class.from_pretrained(str(folder), **kwargs).eval(), processor


def load_bundled(**kwargs):
    """`(model, processor)`: the HiLight that ships with the package (see its model card,
    `modeling_hilight/bundled/hilight/README.md`)."""
    return load_model(bundled_folder("hilight"), **kwargs)


def load_bundled_encoder(**kwargs):
    """`(model, processor)`: the bundled CLIP-ViP+ encoder (video and text towers) of the bundled HiLight."""
    return load_model(bundled_folder("clip_vip_plus"), **kwargs)


__all__ = ["BUNDLED", "ModelLoadError", "bundled_folder", "load_bundled", "load_bundled_encoder", "load_model",
           "load_processor", "model_type_of"]  # fmt: skip
