"""Making a billiards data set: clips, captions, conversations and ground truth in one folder.

    out/
      clips/train_000000.mp4 ...          H.264 clips
      dataset_dict.json, train/, ...      a `datasets.DatasetDict` (train / validation / test)
      llava_train.json ...                the reference's LLaVA-style JSON, videos relative to out/
      answer_balance.json                 per split and question type: majority-answer accuracy

Splits use disjoint seed ranges, so no shot appears in two splits. Clips are simulated, rendered
and encoded in worker processes; the questions are chosen afterwards in the main process, split by
split in seed order (`text.choose_questions` balances answers across a whole split), so the result
does not depend on the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict
from tqdm.auto import tqdm

from .physics import ShotConfig, simulate
from .render import RenderSettings, frame_strip, render_frames, write_mp4
from .text import QA, ShotFacts, answer_balance, candidate_questions, caption, choose_questions, conversation

SPLIT_SEED_OFFSET = {"train": 0, "validation": 10_000_000, "test": 20_000_000}
MAX_WORKERS = 2  # the machines this runs on have two cores


def split_sizes(num_clips: int, validation: float = 0.1, test: float = 0.1) -> dict[str, int]:
    if num_clips < 3:
        return {"train": num_clips, "validation": 0, "test": 0}
    n_val, n_test = max(1, round(num_clips * validation)), max(1, round(num_clips * test))
    return {"train": num_clips - n_val - n_test, "validation": n_val, "test": n_test}


def make_clip(split: str, index: int, seed: int, out_dir: str, settings: dict, shot: dict | None = None) -> dict:
    """Simulate, render and write one clip; returns its record, with every candidate question
    (`qa`) but no conversation yet (see `make_dataset`)."""
    sim = simulate(seed, config=ShotConfig(**(shot or {})))
    render = RenderSettings(**settings, seed=seed)
    frames, truth = render_frames(sim, render)
    relative = f"clips/{split}_{index:06d}.mp4"
    write_mp4(frames, Path(out_dir) / relative, render.fps)
    facts, rng = ShotFacts(sim), np.random.default_rng(seed)
    captions = list(dict.fromkeys(caption(facts, rng) for _ in range(4)))  # distinct phrasings, in order
    return {
        "id": f"{split}_{index:06d}",
        "seed": seed,
        "video": relative,
        "caption": captions[0],
        "captions": captions,
        "qa": [asdict(q) for q in candidate_questions(facts, rng)],
        "events": json.dumps(sim.event_log()),
        "ball_positions": json.dumps(truth),
        "num_frames": len(frames),
        "fps": render.fps,
        "width": render.width,
        "height": render.height,
        "num_balls": len(sim.numbers) - 1,
    }


def llava_turns(messages: list[dict]) -> list[dict]:
    """transformers chat -> the reference's `conversations` (`<video>` first in the first human turn)."""
    turns = []
    for m in messages:
        text = " ".join(b["text"] for b in m["content"] if b["type"] == "text")
        if any(b["type"] == "video" for b in m["content"]):
            text = "<video>\n" + text
        turns.append({"from": "human" if m["role"] == "user" else "gpt", "value": text})
    return turns


def add_conversations(records: list[dict], max_turns: int = 3) -> list[dict]:
    """Choose each clip's questions (balanced over these records) and add `messages`, `questions`
    (the asked ones, with short and full answers) and `conversations` (LLaVA)."""
    candidates = [[QA(**q) for q in r["qa"]] for r in records]
    chosen = choose_questions(candidates, [r["seed"] for r in records], max_turns=max_turns)
    for record, items in zip(records, chosen):
        messages = conversation(record["video"], items, np.random.default_rng([record["seed"], 2]))
        record.update(messages=messages, questions=[asdict(q) for q in items], conversations=llava_turns(messages))
    return records


def _make_clip_args(args):
    return make_clip(*args)


def make_dataset(out_dir: str | os.PathLike, num_clips: int, seed: int = 0, width: int = 128, height: int = 64,
                 fps: int = 12, workers: int = 2, perspective: float = 0.0, noise: float = 0.0,
                 min_balls: int = 1, max_balls: int = 15, max_turns: int = 3, progress: bool = True) -> DatasetDict:  # fmt: skip
    """Make `num_clips` clips into `out_dir` and return (and save) the DatasetDict."""
    if not isinstance(num_clips, int) or num_clips < 1:
        raise ValueError(f"num_clips must be a positive integer, got {num_clips!r}.")
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}.")
    if num_clips >= 10_000_000:
        raise ValueError(f"num_clips must be under 10,000,000 (each split owns that many shot seeds), got {num_clips}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {out} exists and is not a folder.")
    settings = dict(width=width, height=height, fps=fps, perspective=perspective, noise=noise)
    RenderSettings(**settings)  # bad sizes fail here, before any work
    shot = dict(min_balls=min_balls, max_balls=max_balls)
    ShotConfig(**shot)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    jobs = [
        (split, i, seed * 100_000_000 + SPLIT_SEED_OFFSET[split] + i, str(out), settings, shot)
        for split, size in split_sizes(num_clips).items()
        for i in range(size)
    ]
    bar = tqdm(total=len(jobs), desc="billiards clips", unit="clip", disable=not progress)
    records = []
    workers = max(1, min(workers, MAX_WORKERS))
    if workers > 1 and len(jobs) > 1:
        # forkserver, not fork: a process that forks while other threads (torch's, tqdm's) hold locks can
        # leave a worker waiting forever on a lock no thread will release (a test run hung this way)
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            for record in pool.map(_make_clip_args, jobs, chunksize=max(1, min(8, len(jobs) // (4 * workers)))):
                records.append(record)
                bar.update()
    else:
        for job in jobs:
            records.append(make_clip(*job))
            bar.update()
    bar.close()
    splits, balance = {}, {}
    for split in SPLIT_SEED_OFFSET:
        rows = add_conversations([r for r in records if r["id"].startswith(split + "_")], max_turns)
        if not rows:
            continue
        splits[split] = Dataset.from_list(rows)
        balance[split] = answer_balance([QA(**q) for r in rows for q in r["questions"]])
        llava = [{"id": r["id"], "video": r["video"], "conversations": r["conversations"]} for r in rows]
        (out / f"llava_{split}.json").write_text(json.dumps(llava, indent=1))
    data = DatasetDict(splits)
    data.save_to_disk(str(out))
    balance["all"] = answer_balance([QA(**q) for r in records for q in r["questions"]])
    (out / "answer_balance.json").write_text(json.dumps(balance, indent=2))
    return data


def load_billiards(folder: str | os.PathLike, split: str | None = None) -> DatasetDict | Dataset:
    """A data set made by `make_dataset`, with video paths (the `video` column and the video blocks
    of `messages`) resolved against `folder`. `events` and `ball_positions` stay JSON strings:
    `json.loads` them per row."""
    from ..data import load_training_data  # one loader for every data set of the package

    folder = Path(folder)
    if not (folder / "dataset_dict.json").is_file():
        raise FileNotFoundError(f"{folder}: not a billiards data set (no dataset_dict.json); make one with "
                                f"`hilight data --out {folder} --num-clips N`.")  # fmt: skip
    data = load_training_data(folder)
    if split is None:
        return data
    if split not in data:
        raise KeyError(f"{folder}: no split {split!r}; it has {sorted(data)}.")
    return data[split]


def save_strip(path: str | os.PathLike, seed: int = 58, count: int = 4, width: int = 400, height: int = 200) -> Path:
    """The README's example frame strip: `count` frames of one shot side by side (PNG)."""
    from PIL import Image

    sim = simulate(seed)
    fps = 12
    frames, _ = render_frames(sim, RenderSettings(width=width, height=height, fps=fps, seed=seed))
    moving = frames[: int(sim.stop_time * fps) + 1]  # the shot itself, not the still tail
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame_strip(moving, count)).save(path, optimize=True)
    return path


__all__ = ["add_conversations", "llava_turns", "load_billiards", "make_clip", "make_dataset", "save_strip", "split_sizes"]
