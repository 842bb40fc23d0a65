"""Answers per second for 8 clips: one batched, left-padded `generate` against one clip at a time.

  --model bundled   the bundled model (or a checkpoint folder) on 8 new billiards clips, a question
                    each, greedy answers that stop where the model stops (at most 32 tokens); the
                    inputs come from its processor, whose decoding is the same either way and not timed.
  --model mid       HiLight at the published tower sizes with the mid-size LLM (models.py), random
                    weights, 8 prompts of different lengths, 16 new tokens each.
The batched answers are compared with the one-at-a-time ones (how many are the same).

    python -m benchmarks.bench_batch [--model bundled|mid|FOLDER] [--repeats 3]
"""

import argparse
import tempfile
from pathlib import Path

import torch

from . import models
from .harness import Row, Side, add_common_arguments, emit, interleaved, set_threads

SCRIPT = "`benchmarks/bench_batch.py`"
CLIPS = 8


def checkpoint_inputs(folder: Path, work: Path):
    """(model, batched inputs, one input a clip, generate settings, decode) for a checkpoint folder."""
    from modeling_hilight.bundled import load_model
    from modeling_hilight.evaluation import answer_settings
    from modeling_hilight.training.billiards import load_billiards, make_dataset

    model, processor = load_model(folder)
    make_dataset(work / "clips", 2 * CLIPS, seed=99, workers=1, progress=False)
    data = load_billiards(work / "clips")
    rows = [row for split in data.values() for row in split][:CLIPS]
    conversations = []
    for row in rows:
        first_question = next(i for i, m in enumerate(row["messages"]) if m["role"] == "user")
        conversations.append(row["messages"][: first_question + 1])
    prompts = [processor.apply_chat_template(c, add_generation_prompt=True) for c in conversations]
    clips = [b["path"] for c in conversations for m in c for b in m["content"] if b.get("type") == "video"]
    batched = dict(processor(text=prompts, videos=clips, padding_side="left"))
    single = [dict(processor(text=[p], videos=[v])) for p, v in zip(prompts, clips)]
    settings = dict(**answer_settings(processor), max_new_tokens=32, do_sample=False)
    return model, batched, single, settings, processor.tokenizer


def random_inputs(llm: str):
    model = models.hilight(llm)
    ids, text = models.prompt(model)
    video_ids = ids[0, 1 : 1 + model.config.num_vision_tokens]
    prompts = [torch.cat([text[0, :1], video_ids, text[0, 1 : 1 + 4 * (i + 1)]]) for i in range(CLIPS)]
    longest = max(len(p) for p in prompts)
    pad = torch.full((CLIPS, longest), 0)
    mask = torch.zeros(CLIPS, longest, dtype=torch.long)
    for i, p in enumerate(prompts):
        pad[i, longest - len(p) :], mask[i, longest - len(p) :] = p, 1
    videos = models.videos(model, batch=CLIPS)
    batched = dict(input_ids=pad, attention_mask=mask, pixel_values_videos=videos)
    single = [dict(input_ids=p[None], attention_mask=torch.ones(1, len(p), dtype=torch.long),
                   pixel_values_videos=videos[i : i + 1]) for i, p in enumerate(prompts)]  # fmt: skip
    settings = dict(max_new_tokens=16, min_new_tokens=16, do_sample=False, pad_token_id=0)
    return model, batched, single, settings, None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="bundled", help="bundled, mid, or a HiLight checkpoint folder")
    parser.add_argument("--repeats", type=int, default=3)
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    if args.smoke:  # a checkpoint folder (or the bundled model) is small already; the mid size is not
        args.model, args.repeats = "smoke" if args.model == "mid" else args.model, 1
    key = f"batch/{args.model if args.model in ('bundled', 'mid', 'smoke') else Path(args.model).name}"
    what = f"answers per second for {CLIPS} clips, one batched left-padded generate / one clip at a time"
    with tempfile.TemporaryDirectory() as work:
        if args.model in ("mid", "smoke"):
            model, batched, single, settings, tokenizer = random_inputs(args.model)
            label = f"HiLight, published towers, {models.llm_label(args.model)}, random weights, 16 new tokens"
        else:
            from modeling_hilight.bundled import ModelLoadError, bundled_folder

            try:
                folder = bundled_folder("hilight") if args.model == "bundled" else Path(args.model)
            except ModelLoadError:
                emit([Row(key, f"{what} (the bundled model)", script=SCRIPT,
                          note="the bundled model is not in this checkout (`make bundled-model` builds it)")], args)  # fmt: skip
                return
            model, batched, single, settings, tokenizer = checkpoint_inputs(folder, Path(work))
            label = f"the {'bundled model' if args.model == 'bundled' else folder.name}, greedy answers up to 32 tokens"
        results = {}

        def run_batched():
            results["batched"] = model.generate(**batched, **settings)[:, batched["input_ids"].shape[1] :]

        def run_single():
            results["single"] = [model.generate(**s, **settings)[0, s["input_ids"].shape[1] :] for s in single]

        with torch.inference_mode():
            t = interleaved({"batched": run_batched, "single": run_single}, args.repeats)
    same = 0
    for row, alone in zip(results["batched"], results["single"]):
        row = row[: len(alone)]
        same += int(len(row) == len(alone) and torch.equal(row, alone))
    rate = {name: [CLIPS / s for s in values] for name, values in t.items()}
    emit([Row(key, f"{what} ({label})", Side("batched", rate["batched"], "answers/s"),
              Side("one at a time", rate["single"], "answers/s"), "> 1", SCRIPT,
              note=f"{same} of {CLIPS} batched answers token for token the same as alone")], args)  # fmt: skip


if __name__ == "__main__":
    main()
