"""`hilight demo`: the bundled model answers questions about billiards shots it has never seen.

Renders a few fresh clips from a new seed (printed, so a run can be repeated with `--seed`), asks
the model several question types about each and prints each answer beside the truth, scored on its
fact as `hilight eval` scores it. Seconds on a CPU. `--model` takes any HiLight checkpoint; a
`billiards.json` in its folder (`{"width": ..., "height": ..., "fps": ...}`) gives the clip size it
was trained on (default: `hilight data`'s 128x64 at 12 fps).

`hilight demo --train` is the pipeline end to end instead: data, the three training stages at tiny
size, and the merged model answering (training/demo.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CLIPS = {"width": 128, "height": 64, "fps": 12}
SEED_BASE = 1_000_000_000  # beyond the seeds `hilight data` gives its splits at data seeds below 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="a HiLight checkpoint folder (default: the bundled model)")
    parser.add_argument("--clips", type=int, help="clips to render (default 3; with --train: 32 to train on)")
    parser.add_argument("--questions", type=int, default=3, help="question types asked per clip")
    parser.add_argument("--seed", type=int, help="the first clip's seed (default: a new one each run)")
    parser.add_argument("--out", help="keep the clips here (default: a temporary folder); --train: runs/demo")
    parser.add_argument("--train", action="store_true", help="train the three stages at tiny size instead")
    parser.add_argument("--steps", type=int, default=60, help="--train: training steps per stage")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def clip_settings(folder: Path) -> dict:
    settings = dict(DEFAULT_CLIPS)
    if (folder / "billiards.json").is_file():
        saved = json.loads((folder / "billiards.json").read_text())
        settings.update({k: saved[k] for k in DEFAULT_CLIPS if k in saved})
    return settings


def pick_questions(candidates: list[dict], count: int, offset: int) -> list[dict]:
    """Up to `count` candidates of different types, starting at type number `offset` (so that
    consecutive clips ask different types)."""
    from .training.billiards.text import QUESTION_TYPES

    order = QUESTION_TYPES[offset % len(QUESTION_TYPES) :] + QUESTION_TYPES[: offset % len(QUESTION_TYPES)]
    by_type = {}
    for qa in candidates:
        by_type.setdefault(qa["type"], qa)
    return [by_type[kind] for kind in order if kind in by_type][:count]


def demo(model_folder: str | None, clips: int = 3, questions: int = 3, seed: int | None = None,
         out: str | None = None) -> dict:  # fmt: skip
    """Render, ask, print; returns `{"seed", "right", "asked", "rows"}`."""
    from .answer_matching import match_answer
    from .bundled import bundled_folder, load_model
    from .evaluation import generate_answers
    from .training.billiards import make_clip
    from .training.billiards.text import answer_fact

    start = time.perf_counter()
    folder = Path(model_folder) if model_folder else bundled_folder("hilight")
    model, processor = load_model(folder)
    seed = seed if seed is not None else SEED_BASE + int.from_bytes(os.urandom(4), "little") % SEED_BASE
    settings = clip_settings(folder)
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(out) if out else Path(scratch)
        (where / "clips").mkdir(parents=True, exist_ok=True)
        records = [make_clip("demo", i, seed + i, str(where), settings) for i in range(clips)]
        asked = [(r, qa) for k, r in enumerate(records) for qa in pick_questions(r["qa"], questions, k * questions)]
        conversations = [[{"role": "user", "content": [{"type": "video", "path": str(where / r["video"])},
                                                       {"type": "text", "text": qa["question"]}]}]
                         for r, qa in asked]  # fmt: skip
        answers = generate_answers(model, processor, conversations, batch_size=16)
    name = "the bundled model" if model_folder is None else str(folder)
    print(f"{name} ({sum(p.numel() for p in model.parameters()):,} parameters) on {clips} new clips "
          f"(seed {seed}; repeat with --seed {seed}):")  # fmt: skip
    rows, right = [], 0
    for (record, qa), answer in zip(asked, answers):
        if not rows or rows[-1]["clip"] != record["id"]:
            print(f"\nclip {record['id']}: {record['caption']}")
        ok = match_answer(qa["type"], answer, answer_fact(qa["type"], qa["answer"]))
        right += ok
        rows.append({"clip": record["id"], "question": qa["question"], "answer": answer, "truth": qa["answer"], "right": ok})
        print(f"  Q: {qa['question']}\n     model: {answer!r:40s} truth: {qa['answer']!r:24s} {'right' if ok else 'wrong'}")
    print(f"\n{right} of {len(rows)} answers right in {time.perf_counter() - start:.1f} s"
          + (f"; clips in {out}" if out else ""))  # fmt: skip
    return {"seed": seed, "right": right, "asked": len(rows), "rows": rows}


def run(args: argparse.Namespace) -> int:
    from .cli import quiet_libraries, report_error

    if args.train:
        import warnings

        from .training.demo import train_demo

        quiet_libraries()
        warnings.filterwarnings("ignore", category=FutureWarning)  # deprecations inside transformers and TRL
        train_demo(args.out or "runs/demo", args.clips or 32, args.steps)
        return 0
    quiet_libraries()
    try:
        demo(args.model, args.clips or 3, args.questions, args.seed, args.out)
    except Exception as error:  # one line on stderr, the traceback with --debug
        return report_error("demo", error, args.debug)
    sys.stdout.flush()
    return 0


__all__ = ["demo"]
