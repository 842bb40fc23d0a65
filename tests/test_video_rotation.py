"""Phone videos: a rotation in the MP4's display matrix gives the same upright frames with decord
and PyAV, for 90, 180 and 270 degrees.

The clips are made by stream copy with the rotation written in the container's display matrix.
(`-metadata:s:v:0 rotate=90`, the FFmpeg 5 way, no longer writes one with the FFmpeg 8 inside
PyAV 18, and there is no ffmpeg binary here, so the copy sets the display matrix through PyAV.)"""

import av
import numpy as np
import pytest
import torch

from modeling_hilight import HiLightVideoProcessor
from modeling_hilight.processing.video_decoding import VideoDecodeError, decode_video

HEIGHT, WIDTH, FRAMES = 48, 64, 10


def source_frame(i: int) -> np.ndarray:
    """The top-left quadrant bright, the rest dark; green tells the frame number."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[: HEIGHT // 2, : WIDTH // 2, 0] = 240
    image[..., 1] = 20 * i
    return image


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rotation")
    source = folder / "upright.mp4"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv444p"
        for i in range(FRAMES):
            for packet in stream.encode(av.VideoFrame.from_ndarray(source_frame(i), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = {0: source}
    for degrees in (90, 180, 270):
        path = folder / f"rotated{degrees}.mp4"
        with av.open(str(source)) as inp, av.open(str(path), "w") as copy:  # stream copy: no re-encoding
            original = inp.streams.video[0]
            target = copy.add_stream_from_template(original)
            target.set_display_rotation(degrees)  # counter-clockwise, as the display matrix states it
            for packet in inp.demux(original):
                if packet.dts is not None:
                    packet.stream = target
                    copy.mux(packet)
        out[degrees] = path
    return out


def bright_quadrant(frame: np.ndarray) -> str:
    h, w = frame.shape[0] // 2, frame.shape[1] // 2
    means = {"top-left": frame[:h, :w, 0], "top-right": frame[:h, w:, 0], "bottom-left": frame[h:, :w, 0],
             "bottom-right": frame[h:, w:, 0]}  # fmt: skip
    return max(means, key=lambda k: means[k].mean())


# the top-left corner after turning the picture counter-clockwise by the display matrix's angle
UPRIGHT = {0: "top-left", 90: "bottom-left", 180: "bottom-right", 270: "top-right"}


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_both_backends_give_the_same_upright_frames(clips, degrees):
    stored, _, _ = decode_video(clips[0], 4, backend="pyav")
    expected = np.rot90(stored, degrees // 90, axes=(1, 2))
    assert all(bright_quadrant(f) == UPRIGHT[degrees] for f in expected)  # the turn, checked by hand
    with av.open(str(clips[degrees])) as container:  # the clip stores the frames unturned, with the angle
        frame = next(container.decode(video=0))
        assert frame.rotation % 360 == degrees and frame.to_ndarray(format="rgb24").shape[:2] == (HEIGHT, WIDTH)
    pyav, meta, _ = decode_video(clips[degrees], 4, backend="pyav")
    assert meta.frames_indices == [0, 3, 6, 9]
    assert pyav.shape == expected.shape and np.abs(pyav.astype(int) - expected).max() <= 2
    auto, meta, _ = decode_video(clips[degrees], 4)
    np.testing.assert_array_equal(auto, pyav)
    if degrees == 180:  # decord turns it itself
        decord, _, _ = decode_video(clips[degrees], 4, backend="decord")
        np.testing.assert_array_equal(decord, pyav)
    else:  # decord 0.6 cannot return a turned frame at its own size: a clear error, and auto uses PyAV
        with pytest.raises(VideoDecodeError, match=rf"rotated{degrees}.mp4: decord failed"):
            decode_video(clips[degrees], 4, backend="decord")
        assert meta.backend == "pyav"


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_the_video_processor_gives_the_same_pixels_with_either_backend(clips, degrees):
    # squash-resizing in the decoder (the default) to a square: decord turns 90/270 correctly there
    values = {backend: HiLightVideoProcessor(size=32, num_frames=4, decode_backend=backend)(str(clips[degrees]))
              ["pixel_values_videos"] for backend in ("decord", "pyav")}  # fmt: skip
    upright = HiLightVideoProcessor(size=32, num_frames=4, decode_backend="pyav")(str(clips[0]))["pixel_values_videos"]
    expected = torch.rot90(upright, degrees // 90, dims=(3, 4))
    for backend, got in values.items():
        # one grey level is ~0.015 here; two FFmpeg versions' scalers differ by a few levels on average,
        # more right at the quadrant's sharp edge
        assert (got - expected).abs().mean() < 0.05, backend
        assert bright_quadrant(got[0, 0].permute(1, 2, 0).numpy()) == UPRIGHT[degrees], backend
