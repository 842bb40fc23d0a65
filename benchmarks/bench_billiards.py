"""Billiards clips per second on this machine, and where the time goes.

Makes clips at the default training size (128x64, 12 fps) and at 224x112, one process, and
times physics, rendering and H.264 encoding separately; then `make_dataset` with 2 worker
processes end to end. The ratios printed are shares of one run's total.

    python benchmarks/bench_billiards.py [--clips 40]
"""

import argparse
import tempfile
import time
from pathlib import Path

from modeling_hilight.training.billiards.dataset import make_dataset
from modeling_hilight.training.billiards.physics import simulate
from modeling_hilight.training.billiards.render import RenderSettings, render_frames, write_mp4


def per_stage(clips: int, width: int, height: int, folder: Path):
    physics = render = encode = frames = 0.0
    for seed in range(clips):
        t0 = time.perf_counter()
        sim = simulate(seed)
        t1 = time.perf_counter()
        video, _ = render_frames(sim, RenderSettings(width=width, height=height, seed=seed))
        t2 = time.perf_counter()
        write_mp4(video, folder / f"{seed}.mp4", 12)
        t3 = time.perf_counter()
        physics, render, encode, frames = physics + t1 - t0, render + t2 - t1, encode + t3 - t2, frames + len(video)
    total = physics + render + encode
    print(f"{width}x{height}: {clips / total:.1f} clips/s, {frames / total:.0f} frames/s in one process; "
          f"physics {physics / total:.0%}, rendering {render / total:.0%}, encoding {encode / total:.0%}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        per_stage(args.clips, 128, 64, Path(folder))
        per_stage(args.clips, 224, 112, Path(folder))
        start = time.perf_counter()
        make_dataset(Path(folder) / "ds", args.clips * 4, workers=2, progress=False)
        seconds = time.perf_counter() - start
    rate = args.clips * 4 / seconds
    print(f"make_dataset, 2 processes, 128x64: {rate:.1f} clips/s ({1000 / rate / 60:.1f} min per 1000 clips, "
          f"captions, QA and the DatasetDict included)")


if __name__ == "__main__":
    main()
