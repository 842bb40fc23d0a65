"""Processor time for 12 frames of a 10-second 720p H.264 clip, against decord alone (the floor).

The clip is written at run time (24 fps, 240 frames, 1280x720). Measured in one run, interleaved,
medians of `--repeats`:
  floor       decord.VideoReader(path).get_batch(12 linspace indices)
  decode      our decode_video (probe + decord seek of the same 12 indices)
  processor   HiLightVideoProcessor end to end (decode + squash to 224 in the decoder + CLIP normalise)
  processor (torch resize)  the same with resize_in_decoder=False (antialiased bicubic in torch)
  hf pyav     transformers.video_utils.load_video(path, num_frames=12, backend="pyav")
  hf decord   transformers.video_utils.load_video(path, num_frames=12, backend="decord")
and a batch of 8 clips through the processor, threaded (4 threads) against one at a time.

    python benchmarks/bench_processing.py [--repeats 5]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from modeling_hilight import HiLightVideoProcessor
from modeling_hilight.processing.video_decoding import decode_video, sample_indices


def write_clip(path: Path, seconds=10, fps=24, width=1280, height=720):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        yy, xx = np.mgrid[0:height, 0:width]
        for i in range(seconds * fps):
            image = np.stack([(xx + 4 * i) % 256, (yy + 2 * i) % 256, np.full_like(xx, (3 * i) % 256)], -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image.astype(np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def medians(fns: dict, repeats: int) -> dict:
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import decord
    from transformers.video_utils import load_video

    with tempfile.TemporaryDirectory() as folder:
        clips = [Path(folder) / f"clip{i}.mp4" for i in range(8)]
        write_clip(clips[0])
        for clip in clips[1:]:
            clip.write_bytes(clips[0].read_bytes())
        path = str(clips[0])
        indices = sample_indices(240, 12).tolist()
        processor = HiLightVideoProcessor(num_frames=12, num_decode_threads=4)
        torch_resize = HiLightVideoProcessor(num_frames=12, resize_in_decoder=False)
        sequential = HiLightVideoProcessor(num_frames=12, num_decode_threads=1)
        single = medians({
            "floor": lambda: decord.VideoReader(path, ctx=decord.cpu(0)).get_batch(indices).asnumpy(),
            "decode": lambda: decode_video(path, 12),
            "processor": lambda: processor(path),
            "processor (torch resize)": lambda: torch_resize(path),
            "hf pyav": lambda: load_video(path, num_frames=12, backend="pyav"),
            "hf decord": lambda: load_video(path, num_frames=12, backend="decord"),
        }, args.repeats)  # fmt: skip
        batch = medians({"threaded": lambda: processor([str(c) for c in clips]),
                         "sequential": lambda: sequential([str(c) for c in clips])}, max(2, args.repeats // 2))  # fmt: skip

    floor = single["floor"]
    print("12 frames of a 10 s 720p H.264 clip (240 frames):")
    for name, seconds in single.items():
        print(f"  {name:25s} {seconds * 1e3:8.1f} ms  ({seconds / floor:.2f}x the floor)")
    print(f"RATIO decode/floor = {single['decode'] / floor:.2f} (goal <= 1.25)")
    print(f"RATIO processor/floor = {single['processor'] / floor:.2f} (goal <= 1.25; decode + resize + normalise)")
    print(f"RATIO processor-with-torch-resize/floor = {single['processor (torch resize)'] / floor:.2f}")
    print(f"RATIO hf-pyav/floor = {single['hf pyav'] / floor:.2f}; hf-decord/floor = {single['hf decord'] / floor:.2f}")
    print(f"batch of 8: threaded {batch['threaded']:.2f} s, sequential {batch['sequential']:.2f} s")
    print(f"RATIO batch sequential/threaded = {batch['sequential'] / batch['threaded']:.2f}")


if __name__ == "__main__":
    main()
