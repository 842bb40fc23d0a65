"""Collators and data: skipped videos are counted once, both data formats collate alike, LoRA
stays in the LLM, resume continues with the same losses."""

import json
import shutil

import pytest
import torch
from training_fixtures import billiards, recipe

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration
from modeling_hilight.training.callbacks import SkippedSamples
from modeling_hilight.training.collator import VideoChatCollator
from modeling_hilight.training.data import DataFormatError, load_training_data, llava_record_to_messages
from modeling_hilight.training.lora import language_model_linear_names, language_model_lora_regex
from modeling_hilight.training.train import build, make_processor


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return billiards(tmp_path_factory.mktemp("billiards"), clips=6)


def test_a_bad_video_is_skipped_counted_logged_and_decoded_once(data, tmp_path, caplog):
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    train = load_training_data(copy)["train"]
    bad = train[1]["video"]
    with open(bad, "r+b") as handle:  # keep the size, destroy the content
        handle.write(b"\0" * 4096)
    r, _ = recipe("align", copy, tmp_path / "out")
    processor = make_processor(r, train)
    calls = []
    original = processor.video_processor.preprocess
    processor.video_processor.preprocess = lambda videos, **kw: calls.append(videos) or original(videos, **kw)
    skipped = SkippedSamples()
    collator = VideoChatCollator(processor, skipped)
    batch = collator([train[0], train[1], train[2]])
    assert batch["pixel_values_videos"].shape[0] == 2 and batch["input_ids"].shape[0] == 2
    assert skipped.count == 1 and skipped.records[0]["video"] == bad and "not a readable video" in skipped.records[0]["reason"]
    assert f"skipping sample {train[1]['id']}" in caplog.text
    assert calls == [train[0]["video"], bad, train[2]["video"]]  # each video decoded once
    only_bad = collator([train[1]])  # a batch with nothing good: the last good sample stands in
    assert only_bad["pixel_values_videos"].shape[0] == 1 and skipped.count == 2
    saved = json.loads(skipped.save(tmp_path).read_text())
    assert saved["count"] == 2 and {s["id"] for s in saved["samples"]} == {train[1]["id"]}


def test_cached_videos_give_the_same_batches_and_decode_each_clip_once(data, tmp_path):
    train = load_training_data(data)["train"]
    r, _ = recipe("align", data, tmp_path)
    processor = make_processor(r, train)
    calls = []
    original = processor.video_processor.preprocess
    processor.video_processor.preprocess = lambda videos, **kw: calls.append(videos) or original(videos, **kw)
    plain, cached = VideoChatCollator(processor), VideoChatCollator(processor, cache_videos=True)
    rows = [train[0], train[1], train[0]]  # the first clip twice in one batch
    for epoch in range(2):
        calls.clear()
        expected, got = plain(rows), cached(rows)
        assert expected.keys() == got.keys() and "pixel_values_videos" in got
        for key in expected:
            assert torch.equal(expected[key], got[key]), (epoch, key)
        # the plain collator decodes all three; the cached one two clips in epoch 0, none after
        assert calls[:3] == [r["video"] for r in rows] and len(calls) == (5 if epoch == 0 else 3)
    jitter = make_processor(recipe("align", data, tmp_path, sampling="jitter")[0], train)
    with pytest.raises(ValueError, match="sampling is 'jitter', which draws new frames every time"):
        VideoChatCollator(jitter, cache_videos=True)


def test_llava_json_and_datasets_give_the_same_batches(data, tmp_path):
    hf = load_training_data(data)["train"]
    llava = load_training_data(data / "llava_train.json")
    r, _ = recipe("align", data, tmp_path)
    processor = make_processor(r, hf)
    collator = VideoChatCollator(processor)
    a, b = collator([hf[0], hf[1]]), collator([llava[0], llava[1]])
    for key in ("input_ids", "attention_mask", "labels", "pixel_values_videos"):
        assert torch.equal(a[key], b[key]), key
    answer_tokens = a["labels"][a["labels"] != -100]
    assert (answer_tokens == processor.tokenizer.convert_tokens_to_ids("<end_of_turn>")).sum() >= 2
    assert not (a["labels"] == processor.video_token_id).any()  # no loss on the vision placeholders


def test_llava_records_are_checked():
    record = {"id": "x", "video": ["a.mp4"], "conversations": [{"from": "human", "value": "<video>\n<video> Q"}]}
    with pytest.raises(DataFormatError, match=r"record 'x' has more <video> placeholders than videos \(1\)"):
        llava_record_to_messages(record, "/root", "data.json")
    with pytest.raises(DataFormatError, match="no 'conversations' list"):
        llava_record_to_messages({"id": "y"}, None, "data.json")
    with pytest.raises(DataFormatError, match="nowhere: no such data file or folder"):
        load_training_data("nowhere")


def test_lora_targets_every_llm_linear_and_nothing_in_the_towers():
    model = HiLightForConditionalGeneration(HiLightConfig.tiny())
    import re

    pattern = language_model_lora_regex(model)
    matched = [n for n, _ in model.named_modules() if re.fullmatch(pattern, n)]
    assert matched == language_model_linear_names(model) and len(matched) == 2 * 7
    assert not any(n.startswith(("model.clip_vip", "model.long_clip", "model.token_mining", "lm_head")) for n in matched)
    assert any("clip_vip" in n and n.endswith("q_proj") for n, _ in model.named_modules())  # the trap it avoids


def test_resume_from_a_checkpoint_continues_with_the_same_losses(data, tmp_path):
    overrides = dict(max_steps=6, save_strategy="steps", save_steps=3, learning_rate=0.01)
    full, _, _ = build("align", *recipe("align", data, tmp_path / "full", **overrides))
    full.train()
    whole = [e["loss"] for e in full.state.log_history if "loss" in e]
    resumed, _, _ = build("align", *recipe("align", data, tmp_path / "resumed", **overrides))
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-3"))
    tail = [e["loss"] for e in resumed.state.log_history if "loss" in e and e["step"] > 3]
    assert len(whole) == 6 and len(tail) == 3
    assert tail == pytest.approx(whole[3:], rel=1e-5)


def test_recipe_overrides_keep_strategy_words_and_read_numbers(tmp_path):
    from training_fixtures import RECIPES

    from modeling_hilight.training.train import parse

    recipe, args = parse("align", str(RECIPES / "align_tiny.yaml"),
                         ["--data", "d", "--output_dir", str(tmp_path), "--eval_strategy", "no", "--max_steps", "7",
                          "--learning_rate", "1e-3", "--fingerprint", "true", "--max_tokens", "null"])  # fmt: skip
    assert args.eval_strategy == "no" and args.max_steps == 7 and args.learning_rate == 1e-3
    assert recipe.fingerprint is True and recipe.max_tokens is None and recipe.num_frames == 4
    with pytest.raises(SystemExit, match="pairs"):
        parse("align", None, ["--data"])
