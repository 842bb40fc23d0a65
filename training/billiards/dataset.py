"""Making a billiards data set: clips, captions, conversations and ground truth in one folder.

    out/
      clips/train_000000.mp4 ...          H.264 clips
      dataset_dict.json, train/, ...      a `datasets.DatasetDict` (train / validation / test)
      llava_train.json ...                the reference's LLaVA-style JSON, videos relative to out/
      answer_balance.json                 majority-answer accuracy per question type

Splits use disjoint seed ranges, so no shot appears in two splits.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict
from tqdm.auto import tqdm

from .physics import simulate
from .render import RenderSettings, frame_strip, render_frames, write_mp4
from .text import QA, ShotFacts, answer_balance, candidate_questions, caption, conversation

SPLIT_SEED_OFFSET = {"train": 0, "validation": 10_000_000, "test": 20_000_000}


def split_sizes(num_clips: int, validation: float = 0.1, test: float = 0.1) -> dict[str, int]:
    if num_clips < 3:
        return {"train": num_clips, "validation": 0, "test": 0}
    n_val, n_test = max(1, round(num_clips * validation)), max(1, round(num_clips * test))
    return {"train": num_clips - n_val - n_test, "validation": n_val, "test": n_test}


def make_clip(split: str, index: int, seed: int, out_dir: str, settings: dict, max_turns: int = 3) -> dict:
    """Simulate, render, write one clip; returns its record (all columns of the data set)."""
    sim = simulate(seed)
    render = RenderSettings(**settings, seed=seed)
    frames, truth = render_frames(sim, render)
    relative = f"clips/{split}_{index:06d}.mp4"
    write_mp4(frames, Path(out_dir) / relative, render.fps)
    facts, rng = ShotFacts(sim), np.random.default_rng(seed)
    captions = [caption(facts, rng) for _ in range(3)]
    items = candidate_questions(facts, rng)
    turns = int(rng.integers(1, max_turns + 1))
    chosen = [items[i] for i in sorted(rng.choice(len(items), size=min(turns, len(items)), replace=False))]
    messages = conversation(relative, chosen, rng)
    return {
        "id": f"{split}_{index:06d}",
        "seed": seed,
        "video": relative,
        "caption": captions[0],
        "captions": captions,
        "messages": messages,
        "conversations": _llava_turns(messages),
        "qa": [asdict(q) for q in items],
        "events": json.dumps(sim.event_log()),
        "ball_positions": json.dumps(truth),
        "num_frames": len(frames),
        "fps": render.fps,
    }


def _llava_turns(messages: list[dict]) -> list[dict]:
    turns = []
    for m in messages:
        text = " ".join(b["text"] for b in m["content"] if b["type"] == "text")
        if any(b["type"] == "video" for b in m["content"]):
            text = "<video>\n" + text
        turns.append({"from": "human" if m["role"] == "user" else "gpt", "value": text})
    return turns


def _make_clip_args(args):
    return make_clip(*args)


def make_dataset(out_dir: str | os.PathLike, num_clips: int, seed: int = 0, width: int = 128, height: int = 64,
                 fps: int = 12, workers: int = 2, perspective: float = 0.0, noise: float = 0.0,
                 progress: bool = True) -> DatasetDict:  # fmt: skip
    """Make `num_clips` clips into `out_dir` and return (and save) the DatasetDict."""
    out = Path(out_dir)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    settings = dict(width=width, height=height, fps=fps, perspective=perspective, noise=noise)
    jobs = [
        (split, i, seed * 100_000_000 + SPLIT_SEED_OFFSET[split] + i, str(out), settings)
        for split, size in split_sizes(num_clips).items()
        for i in range(size)
    ]
    bar = tqdm(total=len(jobs), desc="billiards clips", unit="clip", disable=not progress)
    records = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, 2)) as pool:
            for record in pool.map(_make_clip_args, jobs, chunksize=4):
                records.append(record)
                bar.update()
    else:
        for job in jobs:
            records.append(make_clip(*job))
            bar.update()
    bar.close()
    splits = {}
    for split in SPLIT_SEED_OFFSET:
        rows = [r for r in records if r["id"].startswith(split + "_")]
        if rows:
            splits[split] = Dataset.from_list(rows)
            (out / f"llava_{split}.json").write_text(json.dumps(
                [{"id": r["id"], "video": r["video"], "conversations": r["conversations"]} for r in rows], indent=1))
    data = DatasetDict(splits)
    data.save_to_disk(str(out))
    balance = answer_balance([QA(**q) for r in records for q in r["qa"]])
    (out / "answer_balance.json").write_text(json.dumps(balance, indent=2))
    return data


def save_strip(path: str | os.PathLike, seed: int = 56, count: int = 5, width: int = 256, height: int = 128) -> Path:
    """The README's example frame strip: `count` frames of one shot side by side (PNG)."""
    from PIL import Image

    sim = simulate(seed)
    frames, _ = render_frames(sim, RenderSettings(width=width, height=height, fps=12, seed=seed))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame_strip(frames, count)).save(path, optimize=True)
    return path


__all__ = ["make_clip", "make_dataset", "save_strip", "split_sizes"]
