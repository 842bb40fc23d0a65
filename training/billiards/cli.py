"""`hilight data`: make a synthetic billiards data set.

    hilight data --out data/billiards --num-clips 1000 [--width 128 --height 64 --fps 12 --seed 0 --workers 2]
    hilight data --strip docs/images/billiards_strip.png     # the README's example frame strip
"""

import argparse
import json
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output folder")
    parser.add_argument("--num-clips", type=int, default=100)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes (at most 2 are used)")
    parser.add_argument("--perspective", type=float, default=0.0, help="0: top-down; 0.1: far edge 10%% narrower")
    parser.add_argument("--noise", type=float, default=0.0, help="pixel noise standard deviation (0-255)")
    parser.add_argument("--strip", help="write an example frame strip PNG here instead")


def run(args: argparse.Namespace) -> int:
    from .dataset import make_dataset, save_strip

    if args.strip:
        print(f"wrote {save_strip(args.strip, seed=args.seed or 56)}")
        return 0
    if not args.out:
        raise SystemExit("hilight data: --out is required (or --strip)")
    start = time.perf_counter()
    data = make_dataset(args.out, args.num_clips, seed=args.seed, width=args.width, height=args.height, fps=args.fps,
                        workers=args.workers, perspective=args.perspective, noise=args.noise)  # fmt: skip
    seconds = time.perf_counter() - start
    sizes = {k: len(v) for k, v in data.items()}
    print(f"wrote {sum(sizes.values())} clips {sizes} to {args.out} in {seconds:.1f} s")
    print(json.dumps(json.load(open(f"{args.out}/answer_balance.json")), indent=1))
    return 0
