"""The per-file decoder choice: decord and PyAV give the very same frames (so the choice can never
change what the model sees), and `auto` picks by the file."""

import logging

import av
import numpy as np
import pytest
import torch

from modeling_hilight import HiLightVideoProcessor
from modeling_hilight.processing import video_decoding
from modeling_hilight.processing.video_decoding import (
    VideoInfo, choose_backend, decode_video, sample_indices, video_info,
)  # fmt: skip

ENCODERS = {"h264": ("libx264", "mp4", {"preset": "ultrafast"}),
            "hevc": ("libx265", "mp4", {"preset": "ultrafast", "x265-params": "log-level=error"}),
            "vp9": ("libvpx-vp9", "webm", {"deadline": "realtime", "cpu-used": "8"}),
            "av1": ("libsvtav1", "mp4", {"preset": "12", "svtav1-params": "log-level=0"})}  # fmt: skip


def textured_clip(path, codec, frames=30, width=160, height=96, gop=None):
    """Diagonal colour ramps that move each frame: every scaler and chroma difference shows."""
    encoder, _, options = ENCODERS[codec]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=24, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        yy, xx = np.mgrid[0:height, 0:width]
        for i in range(frames):
            image = np.stack([(xx * 3 + 5 * i) % 256, (yy * 5 + 3 * i) % 256, ((xx + yy) * 2 + 7 * i) % 256], -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image.astype(np.uint8), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("codecs")
    return {(codec, gop): textured_clip(folder / f"{codec}{gop or 0}.{ENCODERS[codec][1]}", codec, gop=gop)
            for codec in ENCODERS for gop in (None, 5)}  # fmt: skip


@pytest.mark.parametrize("codec", ["h264", "hevc", "vp9"])
@pytest.mark.parametrize("gop", [None, 5])
@pytest.mark.parametrize("size", [None, 224, 50])
def test_decord_and_pyav_give_the_same_frames(clips, codec, gop, size):
    path = clips[(codec, gop)]
    a, meta_a, keys_a = decode_video(path, 12, backend="decord", num_keyframes=5, decode_size=size)
    b, meta_b, keys_b = decode_video(path, 12, backend="pyav", num_keyframes=5, decode_size=size)
    assert (meta_a.backend, meta_b.backend) == ("decord", "pyav")
    assert a.shape == (12, size or 96, size or 160, 3) and keys_a.shape[0] == 5
    assert np.array_equal(a, b) and np.array_equal(keys_a, keys_b)  # pixel for pixel
    assert a.std() > 30  # a textured picture, not a flat one that any scaler keeps
    np.testing.assert_allclose(meta_a.timestamps, meta_b.timestamps, atol=1e-3)
    auto, _, _ = decode_video(path, 12, num_keyframes=5, decode_size=size)
    assert np.array_equal(auto, a)


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_the_processor_gives_the_same_tensor_whichever_decoder_reads_the_file(clips, codec):
    path = str(clips[(codec, 5)])
    values = [HiLightVideoProcessor(num_frames=8, decode_backend=b)(path)["pixel_values_videos"]
              for b in ("decord", "pyav", "auto")]  # fmt: skip
    assert values[0].shape == (1, 8, 3, 224, 224)
    assert torch.equal(values[0], values[1]) and torch.equal(values[0], values[2])


def test_pyavs_own_scaler_would_differ(clips):
    """Why the PyAV path goes through decord's filter chain: PyAV's `to_ndarray(width=, height=)`
    scales with other swscale settings, a few grey levels off decord."""
    path = clips[("h264", None)]
    chain, _, _ = decode_video(path, None, "indices", indices=[3], backend="pyav", decode_size=64)
    with av.open(str(path)) as container:
        frame = [f for _, f in zip(range(4), container.decode(video=0))][3]
        own = frame.to_ndarray(format="rgb24", width=64, height=64, interpolation="BICUBIC")
    assert np.abs(own.astype(int) - chain[0]).mean() > 0.5


def test_av1_goes_to_pyav_without_trying_decord(clips, caplog, monkeypatch):
    path = clips[("av1", None)]
    info = video_info(path)
    assert info.codec == "av1" and info.frames == 30
    assert choose_backend(info, sample_indices(30, 12)) == "pyav"
    monkeypatch.setattr(video_decoding, "_logged_reasons", set())

    def no_decord(*args, **kwargs):
        raise AssertionError("decord was tried on an AV1 file")

    monkeypatch.setattr(video_decoding, "_decode_decord", no_decord)
    with caplog.at_level(logging.WARNING):
        frames, meta, _ = decode_video(path, 12, decode_size=64)
    assert meta.backend == "pyav" and frames.shape == (12, 64, 64, 3)
    assert "decord" not in caplog.text
    monkeypatch.undo()
    with pytest.raises(ValueError, match="decord failed"):  # decord's FFmpeg really cannot: a clear error
        decode_video(path, 12, backend="decord")


def test_probe_reads_codec_container_and_keyframes(clips):
    mp4 = video_info(clips[("h264", 5)])
    assert (mp4.codec, mp4.frames, mp4.width, mp4.height) == ("h264", 30, 160, 96)
    assert mp4.container.startswith("mov") and mp4.keyframes[0] == 0 and len(mp4.keyframes) >= 5
    webm = video_info(clips[("vp9", None)])  # no frame count stored: the packets are counted
    assert (webm.codec, webm.frames, webm.container) == ("vp9", 30, "matroska,webm") and webm.keyframes[0] == 0
    with open(clips[("hevc", None)], "rb") as handle:
        assert video_info(handle.read()).codec == "hevc"


def info(codec, width=1280, height=720, keyframes=(0, 128)):
    return VideoInfo(frames=240, fps=24.0, duration=10.0, width=width, height=height, codec=codec, container="mp4",
                     keyframes=None if keyframes is None else list(keyframes))  # fmt: skip


def test_choose_backend_follows_the_measured_grid():
    twelve = sample_indices(240, 12)
    for codec in ("h264", "hevc"):  # PyAV faster at every size and keyframe interval measured
        assert choose_backend(info(codec), twelve) == "pyav"
        assert choose_backend(info(codec, 1920, 1080, keyframes=None), twelve) == "pyav"
    assert choose_backend(info("av1"), twelve) == "pyav"  # only PyAV decodes it
    # VP9: decord only at 720p and more with keyframes more than 2 s apart (or not known)
    assert choose_backend(info("vp9"), twelve) == "decord"
    assert choose_backend(info("vp9", keyframes=None), sample_indices(240, 48)) == "decord"
    assert choose_backend(info("vp9", 1920, 1080, keyframes=range(0, 240, 24)), twelve) == "pyav"
    assert choose_backend(info("vp9", 640, 360), twelve) == "pyav"


def test_auto_reads_a_720p_vp9_file_with_decord_and_gets_pyavs_frames(tmp_path):
    path = textured_clip(tmp_path / "wide.webm", "vp9", frames=60, width=1280, height=720)  # one keyframe in 2.5 s
    assert choose_backend(video_info(path), sample_indices(60, 4)) == "decord"
    auto, meta, _ = decode_video(path, 4, decode_size=224)
    pyav, _, _ = decode_video(path, 4, backend="pyav", decode_size=224)
    assert meta.backend == "decord" and np.array_equal(auto, pyav)


def test_when_the_chosen_pyav_fails_decord_is_tried_and_the_pyav_error_kept(clips, monkeypatch, caplog):
    path = clips[("h264", None)]
    expected, _, _ = decode_video(path, 6, backend="decord")

    def broken(name, *args):
        raise video_decoding.VideoDecodeError(name, "decoding failed (a damaged packet).")

    monkeypatch.setattr(video_decoding, "_decode_pyav", broken)
    with caplog.at_level(logging.WARNING):
        frames, meta, _ = decode_video(path, 6)
    assert meta.backend == "decord" and np.array_equal(frames, expected)
    assert f"PyAV failed on {path}" in caplog.text and "trying decord" in caplog.text
    monkeypatch.setattr(video_decoding, "_decode_decord", lambda *args: 1 / 0)
    with pytest.raises(video_decoding.VideoDecodeError, match=r"decoding failed \(a damaged packet\)"):
        decode_video(path, 6)
