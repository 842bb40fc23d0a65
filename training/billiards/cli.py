"""`hilight data`: make a synthetic billiards data set.

    hilight data --out data/billiards --num-clips 1000 [--width 128 --height 64 --fps 12 --seed 0 --workers 2]
    hilight data --strip docs/images/billiards_strip.png     # the README's example frame strip
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output folder (clips/, the DatasetDict, llava_{split}.json, answer_balance.json)")
    parser.add_argument("--num-clips", type=int, default=100, help="clips in all; 80/10/10 %% train/validation/test")
    parser.add_argument("--width", type=int, default=128, help="frame width in pixels (even)")
    parser.add_argument("--height", type=int, default=64, help="frame height in pixels (even)")
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="data set seed; different seeds give disjoint shots")
    parser.add_argument("--workers", type=int, default=2, help="processes (at most 2 are used)")
    parser.add_argument("--min-balls", type=int, default=1, help="fewest object balls in a shot")
    parser.add_argument("--max-balls", type=int, default=15, help="most object balls in a shot")
    parser.add_argument("--max-turns", type=int, default=3, help="most question-answer turns in a conversation")
    parser.add_argument("--perspective", type=float, default=0.0, help="0: top-down; 0.1: far edge 10%% narrower")
    parser.add_argument("--noise", type=float, default=0.0, help="pixel noise standard deviation (0-255)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--strip", help="write an example frame strip PNG here instead")
    parser.add_argument("--strip-seed", type=int, default=STRIP_SEED, help="the shot shown by --strip")


STRIP_SEED = 58


def run(args: argparse.Namespace) -> int:
    from .dataset import make_dataset, save_strip

    if args.strip:
        print(f"wrote {save_strip(args.strip, seed=args.strip_seed)}")
        return 0
    if not args.out:
        print("hilight data: --out is required (or --strip)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        data = make_dataset(args.out, args.num_clips, seed=args.seed, width=args.width, height=args.height,
                            fps=args.fps, workers=args.workers, perspective=args.perspective, noise=args.noise,
                            min_balls=args.min_balls, max_balls=args.max_balls, max_turns=args.max_turns,
                            progress=not args.no_progress)  # fmt: skip
    except ValueError as error:
        print(f"hilight data: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    sizes = {k: len(v) for k, v in data.items()}
    print(f"wrote {sum(sizes.values())} clips {sizes} to {args.out} in {seconds:.1f} s")
    balance = json.load(open(f"{args.out}/answer_balance.json"))["all"]
    print("question type       asked  distinct  majority answer        majority accuracy")
    for kind, row in balance.items():
        print(f"{kind:18s} {row['count']:6d} {row['distinct']:9d}  {row['majority_answer'][:22]:22s} {row['majority_accuracy']:.3f}")
    return 0
