"""PEFT on HiLight: the README's LoRA snippet as written, and the common mistake (adapters in a frozen
vision tower) said once, with a fix that works."""

import logging
import re

import pytest
import torch
from hilight_fixtures import frames, prompt, tiny_model
from peft import LoraConfig, get_peft_model
from readme_snippets import run_snippet
from transformers import AutoModelForImageTextToText

from modeling_hilight.training.lora import language_model_linear_names

LOGGER = "modeling_hilight.modeling_hilight"


@pytest.fixture
def folder(tmp_path):
    tiny_model().save_pretrained(tmp_path / "hilight-tiny")
    return tmp_path


def tower_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and "PEFT adapters" in r.getMessage()]


def forward(model):
    base = model.get_base_model()
    ids = prompt(base, [5, 6, 7])
    return model(input_ids=ids, pixel_values_videos=frames(), labels=ids.masked_fill(ids == 127, -100))


def test_readme_lora_snippet_adapts_only_the_language_model(folder, caplog, capsys):
    namespace = run_snippet("lora", folder)
    assert "trainable params" in capsys.readouterr().out
    model = namespace["model"]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    linears = language_model_linear_names(AutoModelForImageTextToText.from_pretrained(folder / "hilight-tiny"))
    assert trainable and all("lora_" in n and ".language_model." in n for n in trainable)
    assert len(trainable) == 2 * len(linears)  # lora_A and lora_B on every LLM Linear
    assert namespace["lora"].r == 8 and namespace["lora"].lora_alpha == 16 and namespace["lora"].lora_dropout == 0.05
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        forward(model).loss.backward()
    assert tower_warnings(caplog) == []


def test_adapters_in_a_frozen_tower_are_said_once_with_a_fix_that_works(folder, caplog):
    model = get_peft_model(AutoModelForImageTextToText.from_pretrained(folder / "hilight-tiny"),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))  # the common mistake
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        forward(model)
        forward(model)
        model.generate(input_ids=prompt(model.get_base_model(), [5]), pixel_values_videos=frames(), max_new_tokens=2)
    messages = tower_warnings(caplog)
    assert len(messages) == 1, messages
    assert "vision tower(s) `clip_vip`, `long_clip`" in messages[0] and "freeze_clip_vip=True" in messages[0]
    assert "hilight_lora_config(model)" in messages[0]
    fix = re.search(r'target_modules=r"([^"]+)"', messages[0]).group(1)

    caplog.clear()
    fixed = get_peft_model(AutoModelForImageTextToText.from_pretrained(folder / "hilight-tiny"),
                           LoraConfig(r=4, target_modules=fix))  # fmt: skip
    adapted = {n.rsplit(".lora_", 1)[0] for n, p in fixed.named_parameters() if "lora_" in n}
    assert adapted and all(".language_model." in n for n in adapted)
    assert {n.rsplit(".", 1)[-1] for n in adapted} == {"q_proj", "v_proj"}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        forward(fixed)
    assert tower_warnings(caplog) == []


def test_no_warning_when_the_config_lets_the_tower_train(folder, caplog):
    base = tiny_model(freeze_clip_vip=False, freeze_long_clip=False)
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        forward(model)
    assert tower_warnings(caplog) == []
    assert any("clip_vip" in n and "lora_" in n for n, p in model.named_parameters() if p.requires_grad)
