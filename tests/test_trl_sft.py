"""TRL's own SFTTrainer on `{"messages": [... video blocks ...]}` data: the README's snippet as written,
and proof that the videos reach the model through TRL's vision collator."""

import json

import pytest
import torch
from readme_snippets import python_blocks
from video_fixtures import write_video

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration, HiLightProcessor, HiLightVideoProcessor
from modeling_hilight import build_hilight_tokenizer

ANSWERS = ["the red 3.", "the yellow 1."]


def make_checkpoint_and_data(folder):
    """A tiny HiLight checkpoint `hilight-tiny` and `chats.jsonl` (4 conversations, one clip each)."""
    tokenizer = build_hilight_tokenizer(["which ball went into a pocket ?", "the red 3 .", "the yellow 1 ."])
    processor = HiLightProcessor(HiLightVideoProcessor(size=32, num_frames=4), tokenizer, queries_per_frame=4)
    torch.manual_seed(0)
    config = HiLightConfig.tiny(video_token_id=processor.video_token_id, num_frames=4,
                                text_config={"vocab_size": len(tokenizer), "initializer_range": 0.2})  # fmt: skip
    HiLightForConditionalGeneration(config).save_pretrained(folder / "hilight-tiny")
    processor.save_pretrained(folder / "hilight-tiny")
    with open(folder / "chats.jsonl", "w") as f:
        for i in range(4):
            clip = write_video(folder / f"clip{i}.mp4", frames=12 + 9 * i)
            f.write(json.dumps({"messages": [
                {"role": "user", "content": [{"type": "video", "path": str(clip)},
                                             {"type": "text", "text": "Which ball went into a pocket?"}]},
                {"role": "assistant", "content": [{"type": "text", "text": ANSWERS[i % 2]}]},
            ]}) + "\n")  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The README's SFTTrainer snippet, run as written in a folder holding its checkpoint and data."""
    import os

    folder = tmp_path_factory.mktemp("sft")
    make_checkpoint_and_data(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        scope: dict = {}
        (block,) = python_blocks("### Fine-tuning a checkpoint with TRL's own SFTTrainer")
        exec(compile(block, "README.md", "exec"), scope)  # noqa: S102
    finally:
        os.chdir(cwd)
    return folder, scope


def test_the_readme_sft_snippet_trains(trained):
    from transformers.models.auto.processing_auto import AutoProcessor

    folder, scope = trained
    trainer = scope["trainer"]
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    assert isinstance(trainer.data_collator, DataCollatorForVisionLanguageModeling)  # TRL's own collator
    assert trainer.state.global_step == 6  # 4 conversations, batches of 2, 3 epochs
    (summary,) = [e for e in trainer.state.log_history if "train_loss" in e]
    assert 0 < summary["train_loss"] < 20 and summary["num_tokens"] > 0
    start = HiLightForConditionalGeneration.from_pretrained(folder / "hilight-tiny")
    mining = dict(start.model.token_mining.named_parameters())
    moved = [n for n, p in trainer.model.model.token_mining.named_parameters() if not torch.equal(p, mining[n])]
    assert moved  # token mining learned
    processor = AutoProcessor.from_pretrained(folder / "hilight-tiny")
    assert trainer.processing_class.video_token_id == processor.video_token_id


def test_videos_reach_the_model_through_trls_collator(trained):
    folder, scope = trained
    trainer, data, processor = scope["trainer"], scope["data"], scope["processor"]
    model = trainer.model.eval()
    examples = [dict(data[i]) for i in range(2)]
    batch = trainer.data_collator([dict(e) for e in examples])
    # the pixels are the processor's own for those clips, and the labels are the answers and end markers only
    paths = [e["messages"][0]["content"][0]["path"] for e in examples]
    direct = processor.video_processor(paths)["pixel_values_videos"]
    assert torch.equal(batch["pixel_values_videos"], direct)
    learned = [processor.tokenizer.convert_ids_to_tokens(row[row != -100].tolist()) for row in batch["labels"]]
    assert learned == [["the", "red", "3", ".", "<end_of_turn>", "<eos>"], ["the", "yellow", "1", ".", "<end_of_turn>",
                                                                             "<eos>"]]  # fmt: skip
    with torch.no_grad():
        right = model(**batch).loss
        # the same conversations with other videos (each the other's clip) give another loss
        swapped = [dict(e) for e in examples]
        for e, path in zip(swapped, reversed(paths)):
            e["messages"] = [dict(m) for m in e["messages"]]
            e["messages"][0] = {**e["messages"][0], "content": [{**e["messages"][0]["content"][0], "path": path},
                                                                e["messages"][0]["content"][1]]}  # fmt: skip
        other_batch = trainer.data_collator(swapped)
        assert torch.equal(other_batch["input_ids"], batch["input_ids"])
        assert not torch.equal(other_batch["pixel_values_videos"], batch["pixel_values_videos"])
        other = model(**other_batch).loss
    assert abs(right.item() - other.item()) > 1e-4, (right.item(), other.item())


def test_without_the_images_column_training_stops_instead_of_ignoring_the_videos(trained, tmp_path):
    from datasets import load_dataset
    from trl import SFTConfig, SFTTrainer

    folder, scope = trained
    data = load_dataset("json", data_files=str(folder / "chats.jsonl"), split="train")
    args = SFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, max_steps=1, per_device_train_batch_size=2,
                     bf16=False, report_to="none")  # fmt: skip
    model = HiLightForConditionalGeneration.from_pretrained(folder / "hilight-tiny")
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=scope["processor"])
    with pytest.raises(ValueError, match="video placeholder tokens .* but no pixel_values_videos"):
        trainer.train()
