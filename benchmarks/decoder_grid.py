"""decord against PyAV on a grid of files: the evidence behind the processor's per-file decoder choice.

For each codec, keyframe interval, picture size and number of sampled frames, a clip is written
and `decode_video(..., decode_size=224)` is timed with each decoder forced, the two taking turns;
the table gives the medians, PyAV / decord, and what `decode_backend="auto"` picks.

    python -m benchmarks.decoder_grid [--codecs h264,hevc,vp9,av1] [--gops 0,24,6] [--sizes 1280x720,640x360]
                                      [--samples 12,48] [--seconds 10] [--repeats 3]
"""

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from modeling_hilight.processing.video_decoding import choose_backend, decode_video, video_info

from .bench_processing import ENCODERS, write_clip
from .harness import interleaved, set_threads


def write(path: Path, codec: str, gop: int, width: int, height: int, frames: int, fps: int = 24) -> Path:
    return write_clip(path, codec, fps=fps, width=width, height=height, gop=gop, frames=frames)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--codecs", default="h264,hevc,vp9,av1")
    parser.add_argument("--gops", default="0,24,6", help="keyframe intervals; 0: the encoder's default")
    parser.add_argument("--sizes", default="1280x720,640x360")
    parser.add_argument("--samples", default="12,48")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    set_threads()
    print("| codec | keyframes | size | frames | sampled | decord ms | PyAV ms | PyAV / decord | auto picks |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for codec in args.codecs.split(","):
            for gop in (int(g) for g in args.gops.split(",")):
                for size in args.sizes.split(","):
                    width, height = (int(v) for v in size.split("x"))
                    path = write(Path(folder) / f"clip.{ENCODERS[codec][1]}", codec, gop, width, height, args.seconds * 24)
                    info = video_info(str(path))
                    for samples in (int(n) for n in args.samples.split(",")):
                        fns = {b: (lambda b=b: decode_video(str(path), samples, backend=b, decode_size=224))
                               for b in ("decord", "pyav")}  # fmt: skip
                        try:
                            fns["decord"]()
                        except ValueError:
                            del fns["decord"]
                        t = {b: statistics.median(v) * 1e3 for b, v in interleaved(fns, args.repeats).items()}
                        wanted = np.linspace(0, info.frames - 1, samples).astype(int)
                        ratio = f"{t['pyav'] / t['decord']:.2f}" if "decord" in t else "decord fails"
                        print(f"| {codec} | {len(info.keyframes or [])} | {size} | {info.frames} | {samples} | "
                              f"{t.get('decord', float('nan')):.0f} | {t['pyav']:.0f} | {ratio} | "
                              f"{choose_backend(info, wanted)} |", flush=True)  # fmt: skip
                    path.unlink()


if __name__ == "__main__":
    main()
