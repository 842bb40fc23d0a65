"""The three stages run from their tiny recipes: the loss falls, the video reaches the model and
the loss depends on it; outputs load back."""

import json

import pytest
import torch
from training_fixtures import billiards, recipe
from transformers import AutoModelForImageTextToText

from modeling_hilight import CLIPViPPlusModel
from modeling_hilight.training.train import build, finish


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return billiards(tmp_path_factory.mktemp("billiards"))


def tower_of(model):
    model = model.get_base_model() if hasattr(model, "get_base_model") else model
    return model.vision_model if isinstance(model, CLIPViPPlusModel) else model.model.clip_vip


def losses(trainer):
    return [e["loss"] for e in trainer.state.log_history if "loss" in e]


def loss_with(model, batch, pixels):
    with torch.no_grad():
        return float(model(**{**batch, "pixel_values_videos": pixels}).loss)


@pytest.mark.parametrize("stage", ["encoder", "align", "instruct"])
def test_stage_trains_on_videos(stage, data, tmp_path):
    trainer, processor, skipped = build(stage, *recipe(stage, data, tmp_path / stage))
    seen = []
    tower_of(trainer.model).register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape)))
    trainer.train()
    out = finish(stage, recipe(stage, data, tmp_path / stage)[0], trainer, processor)

    history = losses(trainer)
    assert len(history) == 16
    assert sum(history[-4:]) / 4 < sum(history[:4]) / 4 * 0.97, history  # the loss falls
    assert seen and all(s[1:] == (4, 3, 32, 32) for s in seen)  # every step saw 4-frame videos
    assert skipped.count == 0 and json.loads((out / "skipped_samples.json").read_text())["count"] == 0
    assert (out / "loss_curve.png").stat().st_size > 1000

    # the loss depends on the video: the same batch with other pixels gives another loss
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert "pixel_values_videos" in batch
    trainer.model.eval()
    real = loss_with(trainer.model, batch, batch["pixel_values_videos"])
    other = loss_with(trainer.model, batch, torch.randn_like(batch["pixel_values_videos"]))
    assert abs(real - other) > 1e-4

    if stage == "align":
        trainable = {n.split(".")[1] for n, p in trainer.model.named_parameters() if p.requires_grad}
        assert trainable == {"token_mining"}
    if stage == "instruct":  # the merged checkpoint loads without PEFT and gives the adapter model's logits
        merged = AutoModelForImageTextToText.from_pretrained(out / "merged").eval()
        with torch.no_grad():
            want = trainer.model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            got = merged(**{k: v for k, v in batch.items() if k != "labels"}).logits
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
