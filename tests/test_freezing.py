"""The config's freeze_* flags hold however the model is built: __init__, from_config, from_pretrained
(class and Auto), remote code, PEFT wrapping, and through Trainer steps on a reloaded checkpoint."""

import json

import pytest
import torch
from hilight_fixtures import frames, prompt, tiny_model
from peft import PeftModel, get_peft_model
from remote_code_utils import run_without_package
from transformers import AutoModel, AutoModelForImageTextToText, Trainer, TrainingArguments

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration
from modeling_hilight.training.lora import hilight_lora_config

PARTS = ("clip_vip", "long_clip", "token_mining", "language_model")
# a non-default setting, so that a model built from defaults would be caught
FLAGS = dict(freeze_clip_vip=False, freeze_long_clip=True, freeze_token_mining=False, freeze_language_model=True)


def trainable_parts(model) -> dict[str, bool]:
    """Per part: None if mixed, else whether all its parameters require grad."""
    flags = {}
    for name, parameter in model.named_parameters():
        parts = [p for p in name.split(".") if p in PARTS or p == "lm_head"]
        if parts:
            flags.setdefault(parts[0], set()).add(parameter.requires_grad)
    return {part: (None if len(seen) > 1 else seen.pop()) for part, seen in flags.items()}


def expected_parts(flags, head=True) -> dict[str, bool]:
    out = {part: not flags[f"freeze_{part}"] for part in PARTS}
    if head:
        out["lm_head"] = not flags["freeze_language_model"]
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frozen") / "model"
    tiny_model(text_model_type="llama", **FLAGS).save_pretrained(folder)  # llama: an untied lm_head
    return folder


def test_init_and_from_config_follow_the_config():
    config = HiLightConfig.tiny(text_model_type="llama", **FLAGS)
    assert trainable_parts(HiLightForConditionalGeneration(config)) == expected_parts(FLAGS)
    assert trainable_parts(AutoModelForImageTextToText.from_config(config)) == expected_parts(FLAGS)
    assert trainable_parts(AutoModel.from_config(config)) == expected_parts(FLAGS, head=False)


@pytest.mark.parametrize(
    "load",
    [
        lambda f: HiLightForConditionalGeneration.from_pretrained(f),
        lambda f: AutoModelForImageTextToText.from_pretrained(f),
        lambda f: AutoModelForImageTextToText.from_pretrained(f, dtype=torch.bfloat16),
    ],
    ids=["class", "auto", "auto-bf16"],
)
def test_from_pretrained_keeps_the_saved_freezing(saved, load):
    assert trainable_parts(load(saved)) == expected_parts(FLAGS)


def test_base_model_from_pretrained_keeps_the_saved_freezing(saved):
    assert trainable_parts(AutoModel.from_pretrained(saved)) == expected_parts(FLAGS, head=False)


def test_default_config_freezes_both_towers_after_loading(tmp_path):
    tiny_model().save_pretrained(tmp_path)
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path)
    # Gemma ties lm_head to the embeddings, so named_parameters lists it under the language model only
    assert trainable_parts(loaded) == {"clip_vip": False, "long_clip": False, "token_mining": True, "language_model": True}


def test_changed_flag_applies_on_apply_freezing(saved):
    model = AutoModelForImageTextToText.from_pretrained(saved)
    model.config.freeze_language_model = False
    model.apply_freezing()
    assert trainable_parts(model) == expected_parts({**FLAGS, "freeze_language_model": False})


def test_remote_code_keeps_the_saved_freezing(saved, tmp_path):
    run_without_package(
        f"""
        import json
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_pretrained({str(saved)!r}, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        open("trainable.json", "w").write(json.dumps(sorted(n for n, p in model.named_parameters() if p.requires_grad)))
        """,
        tmp_path,
    )
    got = json.loads((tmp_path / "trainable.json").read_text())
    model = HiLightForConditionalGeneration(HiLightConfig.from_pretrained(saved))
    assert got == sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert any(n.startswith("model.clip_vip.") for n in got) and not any("long_clip" in n for n in got)


def test_peft_wrapping_of_a_loaded_model_leaves_the_towers_frozen(tmp_path):
    tiny_model().save_pretrained(tmp_path / "base")
    base = AutoModelForImageTextToText.from_pretrained(tmp_path / "base")
    peft = get_peft_model(base, hilight_lora_config(base, r=4, alpha=8, modules_to_save=["token_mining"]))
    trainable = {n for n, p in peft.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert not any("clip_vip" in n or "long_clip" in n for n in trainable)
    assert any("token_mining.modules_to_save" in n for n in trainable)
    peft.save_pretrained(tmp_path / "adapter")
    again = PeftModel.from_pretrained(
        AutoModelForImageTextToText.from_pretrained(tmp_path / "base"), tmp_path / "adapter", is_trainable=True
    )
    assert {n for n, p in again.named_parameters() if p.requires_grad} == trainable


class VideoBatches(torch.utils.data.Dataset):
    def __init__(self, model, count=4):
        ids = prompt(model, [5, 6, 7, 8])[0]
        labels = ids.masked_fill(ids == model.config.video_token_id, -100)
        self.rows = [dict(input_ids=ids, labels=labels, pixel_values_videos=frames(seed=i)[0]) for i in range(count)]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def test_two_trainer_steps_on_a_reloaded_checkpoint_leave_the_towers_unchanged(tmp_path):
    tiny_model().save_pretrained(tmp_path / "model")
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "model")  # as a user would, nothing re-applied
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=2,
                             learning_rate=1e-2, weight_decay=0.1, use_cpu=True, report_to="none",
                             save_strategy="no", logging_steps=1, dataloader_num_workers=0)  # fmt: skip
    Trainer(model=model, args=args, train_dataset=VideoBatches(model)).train()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    towers = [n for n in before if n.startswith(("model.clip_vip.", "model.long_clip."))]
    assert towers and not changed & set(towers)
    assert any(n.startswith("model.token_mining.") for n in changed)
    assert any(n.startswith("model.language_model.") for n in changed)
