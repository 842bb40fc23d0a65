"""Videos written at test time with PyAV. Frame i is a flat grey of value 6*i (mod 250), so the
decoded value tells which frame came back (H.264 keeps flat areas within a few levels)."""

import av
import numpy as np


def frame_value(i: int) -> int:
    return (6 * i) % 250


def write_video(path, frames: int = 30, width: int = 64, height: int = 48, fps: int = 24, codec: str = "libx264",
                pix_fmt: str = "yuv420p", pts=None, options=None, gop: int | None = None):  # fmt: skip
    """A video whose frame i is flat grey `frame_value(i)`; `pts` (in 1/1000 s) makes it variable-rate;
    `gop` sets the keyframe interval."""
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if gop:
            stream.codec_context.gop_size = gop
        if pts is not None:
            stream.codec_context.time_base = __import__("fractions").Fraction(1, 1000)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), frame_value(i), np.uint8), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], __import__("fractions").Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decoded_frame_numbers(frames: np.ndarray, total: int) -> list[int]:
    """Which source frame each decoded frame is, by its grey level."""
    values = [frame_value(i) for i in range(total)]
    return [int(np.argmin([abs(float(f.mean()) - v) for v in values])) for f in frames]
