"""The processor's output goes straight into the model: forward, generate and Trainer, the README's
calls run as written."""

import os

import pytest
import torch
from readme_snippets import python_blocks
from video_fixtures import write_video

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration, HiLightProcessor, HiLightVideoProcessor
from modeling_hilight import build_hilight_tokenizer
from modeling_hilight.processing.video_decoding import sample_indices


def test_the_readme_processing_snippets_run_as_written(tmp_path, monkeypatch):
    write_video(tmp_path / "shot.mp4", frames=30)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for block in python_blocks("## Processing: from a video and a question to model inputs"):
        exec(compile(block, "README.md", "exec"), scope)  # noqa: S102
    batch, inputs, processor = scope["batch"], scope["inputs"], scope["processor"]
    assert batch["pixel_values_videos"].shape == (1, 12, 3, 224, 224)
    assert (batch["input_ids"] == processor.video_token_id).sum() == 12 * 32
    assert scope["meta"][0]["frames_indices"] == sample_indices(30, 12).tolist()
    assert "video_metadata" not in inputs and set(inputs) == {"input_ids", "attention_mask", "pixel_values_videos"}
    prompt_length = inputs["input_ids"].shape[1]
    assert (inputs["input_ids"] == processor.video_token_id).sum() == 12 * 4
    assert scope["answer"].shape == (1, prompt_length + 8)
    assert torch.isfinite(scope["loss"])


@pytest.fixture
def tiny(tmp_path):
    tokenizer = build_hilight_tokenizer(["which ball went into a pocket ?", "the red 3 .", "two"])
    processor = HiLightProcessor(HiLightVideoProcessor(size=32, num_frames=4), tokenizer, queries_per_frame=4)
    torch.manual_seed(0)
    config = HiLightConfig.tiny(video_token_id=processor.video_token_id, num_frames=4,
                                text_config={"vocab_size": len(tokenizer)})  # fmt: skip
    clips = [str(write_video(tmp_path / f"c{i}.mp4", frames=10 + 5 * i)) for i in range(2)]
    return processor, HiLightForConditionalGeneration(config).eval(), clips


def test_generate_and_forward_take_the_processor_output_and_metadata_only_when_asked(tiny):
    processor, model, clips = tiny
    conversation = [{"role": "user", "content": [{"type": "video", "path": clips[0]},
                                                 {"type": "text", "text": "which ball ?"}]}]  # fmt: skip
    inputs = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True, return_tensors="pt")
    assert "video_metadata" not in inputs
    out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    manual = model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                            pixel_values_videos=inputs["pixel_values_videos"], max_new_tokens=3, do_sample=False)  # fmt: skip
    assert torch.equal(out, manual)
    with torch.no_grad():
        logits = model(**processor(text="<video> which ball ?", videos=clips[:1])).logits
    assert logits.shape[:2] == (1, 16 + 3)
    with_meta = processor(text="<video> which ball ?", videos=clips[:1], return_metadata=True)
    assert with_meta["video_metadata"][0]["total_num_frames"] == 10
    # opt-in, and harmless when asked for: the model accepts and ignores it
    without = {k: v for k, v in with_meta.items() if k != "video_metadata"}
    torch.testing.assert_close(model.generate(**with_meta, max_new_tokens=3, do_sample=False),
                               model.generate(**without, max_new_tokens=3, do_sample=False))


def test_trainer_trains_on_the_processor_output(tiny, tmp_path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    processor, model, clips = tiny
    rows = Dataset.from_list([{"video": clips[i % 2], "text": f"<video> which ball ? {a}"}
                              for i, a in enumerate(["the red 3 .", "two", "the red 3 .", "two"])])  # fmt: skip

    def collate(examples):
        batch = processor(text=[e["text"] for e in examples], videos=[e["video"] for e in examples],
                          padding_side="right")  # fmt: skip
        batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        return batch

    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    args = TrainingArguments(str(tmp_path / "run"), per_device_train_batch_size=2, max_steps=2, learning_rate=1e-2,
                             use_cpu=True, report_to="none", save_strategy="no", remove_unused_columns=False,
                             logging_steps=1, disable_tqdm=True)  # fmt: skip
    Trainer(model=model, args=args, train_dataset=rows, data_collator=collate).train()
    changed = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert any(n.startswith("model.token_mining.") for n in changed)
