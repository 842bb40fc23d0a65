"""LoRA for the instruction stage, confined to the language model.

`q_proj`, `k_proj`, `v_proj` also name layers of both vision towers, so target names alone would
put adapters on CLIP-ViP and Long-CLIP. The target is a regex over full module paths, built from
the model's own Linear layers under its language model: every one of them, and nothing else
(the reference: every Gemma linear but `lm_head`).
"""

from __future__ import annotations

import re

from peft import LoraConfig
from torch import nn


def language_model_linear_names(model: nn.Module, language_model_attr: str = "language_model") -> list[str]:
    """Full names of the nn.Linear modules inside the language model (never `lm_head`)."""
    names = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if isinstance(module, nn.Linear) and language_model_attr in parts[:-1]:
            names.append(name)
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear under a '{language_model_attr}' module to adapt.")
    return names


def language_model_lora_regex(model: nn.Module, language_model_attr: str = "language_model") -> str:
    """A regex that PEFT full-matches against module names: the language model's linear layers only."""
    names = language_model_linear_names(model, language_model_attr)
    prefix = names[0][: names[0].index(language_model_attr) + len(language_model_attr)]
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
    return rf"{re.escape(prefix)}\..*\.({'|'.join(map(re.escape, leaves))})"


def hilight_lora_config(
    model: nn.Module, r: int = 64, alpha: int = 32, dropout: float = 0.05, **kwargs
) -> LoraConfig:
    """The reference's stage-2 adapters (r=64, alpha=32, dropout 0.05) on every LLM linear layer."""
    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=language_model_lora_regex(model),
        bias="none",
        task_type="CAUSAL_LM",
        **kwargs,
    )


__all__ = ["hilight_lora_config", "language_model_linear_names", "language_model_lora_regex"]
