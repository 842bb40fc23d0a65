"""Billiards clips per second on this machine, and where the time goes.

1. Per stage, one process: physics, rendering and H.264 encoding of the same clips at the default
   training size (128x64, 12 fps) and at 224x112, the two sizes taking turns clip by clip.
2. `make_dataset` end to end (captions, QA, the DatasetDict), with 2 worker processes against 1,
   the two taking turns.

    python -m benchmarks.bench_billiards [--clips 40] [--repeats 2]
"""

import argparse
import tempfile
import time
from pathlib import Path

from modeling_hilight.training.billiards.dataset import make_dataset
from modeling_hilight.training.billiards.physics import simulate
from modeling_hilight.training.billiards.render import RenderSettings, render_frames, write_mp4

from .harness import Row, Side, add_common_arguments, emit, interleaved, set_threads

SCRIPT = "`benchmarks/bench_billiards.py`"
SIZES = ((128, 64), (224, 112))


def stages(clips: int, folder: Path) -> dict:
    """Seconds of physics, rendering and encoding per size, the sizes taking turns on each clip."""
    spent = {size: {"physics": 0.0, "rendering": 0.0, "encoding": 0.0, "frames": 0} for size in SIZES}
    for seed in range(clips):
        for width, height in SIZES:
            t0 = time.perf_counter()
            sim = simulate(seed)
            t1 = time.perf_counter()
            video, _ = render_frames(sim, RenderSettings(width=width, height=height, seed=seed))
            t2 = time.perf_counter()
            write_mp4(video, folder / f"{seed}.mp4", 12)
            t3 = time.perf_counter()
            s = spent[(width, height)]
            s["physics"] += t1 - t0
            s["rendering"] += t2 - t1
            s["encoding"] += t3 - t2
            s["frames"] += len(video)
    return spent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    if args.smoke:
        args.clips, args.repeats = 2, 1
    with tempfile.TemporaryDirectory() as folder:
        spent = stages(args.clips, Path(folder))
        runs = iter(range(10_000))
        t = interleaved({workers: (lambda w=workers: make_dataset(Path(folder) / f"ds{next(runs)}", args.clips * 2,
                                                                    workers=w, progress=False))
                         for workers in (2, 1)}, args.repeats, warmup=0)  # fmt: skip
    small, large = (spent[size] for size in SIZES)
    total = {size: s["physics"] + s["rendering"] + s["encoding"] for size, s in spent.items()}

    def shares(size):
        s = spent[size]
        return ", ".join(f"{k} {s[k] / total[size]:.0%}" for k in ("physics", "rendering", "encoding"))

    clips = args.clips * 2
    rows = [
        Row("billiards/size", f"billiards clips per second in one process, 224x112 / 128x64 at 12 fps ({args.clips} "
            f"clips each)", Side("224x112", [args.clips / total[SIZES[1]]], "clips/s"),
            Side("128x64", [args.clips / total[SIZES[0]]], "clips/s"), "thousands in minutes", SCRIPT,
            note=f"128x64: {small['frames'] / total[SIZES[0]]:.0f} frames/s, {shares(SIZES[0])}; 224x112: "
                 f"{shares(SIZES[1])}"),
        Row("billiards/processes", f"`make_dataset` end to end (captions, QA, DatasetDict, 128x64), clips per second "
            f"with 2 processes / 1 ({clips} clips)", Side("2 processes", [clips / s for s in t[2]], "clips/s"),
            Side("1 process", [clips / s for s in t[1]], "clips/s"), "", SCRIPT),
    ]  # fmt: skip
    emit(rows, args)


if __name__ == "__main__":
    main()
