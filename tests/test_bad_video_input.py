"""Every bad input of the README's table, created here, gives a VideoDecodeError naming the file
and the reason, or (for the cases that are usable) frames; none crashes or hangs."""

import shutil
import tracemalloc

import av
import numpy as np
import pytest
from PIL import Image
from video_fixtures import decoded_frame_numbers, write_video

from modeling_hilight import HiLightVideoProcessor, VideoDecodeError
from modeling_hilight.processing.video_decoding import decode_video


def audio_stream(container, packets=10):
    stream = container.add_stream("aac", rate=16000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate = 16000
    for i in range(packets):
        frame.pts = i * 1024
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def expect_error(path, pattern):
    with pytest.raises(VideoDecodeError) as error:
        decode_video(path, 12)
    assert str(path) in str(error.value)
    assert error.match(pattern)
    assert isinstance(error.value, ValueError)


def test_missing_and_empty_files(tmp_path):
    expect_error(tmp_path / "missing.mp4", "no such file")
    (tmp_path / "empty.mp4").write_bytes(b"")
    expect_error(tmp_path / "empty.mp4", "the file is empty")
    expect_error(tmp_path, "is a folder, not a video file")


def test_text_and_image_files_named_mp4(tmp_path):
    (tmp_path / "notes.mp4").write_text("this is not a video")
    expect_error(tmp_path / "notes.mp4", "not a readable video file")
    Image.new("RGB", (20, 20), (255, 0, 0)).save(tmp_path / "red.png")
    shutil.copy(tmp_path / "red.png", tmp_path / "red.mp4")
    expect_error(tmp_path / "red.mp4", r"is a still image \(png_pipe\), not a video")


def test_truncated_file_and_file_cut_mid_stream(tmp_path):
    data = write_video(tmp_path / "full.mp4", frames=60).read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: lost
    expect_error(tmp_path / "truncated.mp4", "not a readable video file")
    data = write_video(tmp_path / "fast.mp4", frames=60, options={"movflags": "faststart"}).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])  # index first, pictures cut
    expect_error(tmp_path / "cut.mp4", "decoding failed")


def test_stream_cut_short_decodes_what_exists_and_says_so(tmp_path, caplog):
    data = write_video(tmp_path / "full.mkv", frames=60).read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    frames, meta, _ = decode_video(tmp_path / "cut.mkv", 12)
    assert frames.shape == (12, 48, 64, 3) and 0 < meta.total_num_frames < 60


def test_audio_only_and_zero_decodable_frames(tmp_path):
    with av.open(str(tmp_path / "speech.mp4"), "w") as container:
        audio_stream(container)
    expect_error(tmp_path / "speech.mp4", r"has no video stream \(streams: audio\)")
    with av.open(str(tmp_path / "silent.mkv"), "w") as container:  # a video track that holds no picture
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio_stream(container)
    expect_error(tmp_path / "silent.mkv", "the video has no decodable frames")


def test_one_frame_video_repeats_it(tmp_path):
    frames, meta, _ = decode_video(write_video(tmp_path / "one.mp4", frames=1), 12)
    assert frames.shape[0] == 12 and meta.frames_indices == [0] * 12


def test_large_resolution_keeps_only_sampled_frames_in_memory(tmp_path):
    path = write_video(tmp_path / "big.mp4", frames=8, width=1920, height=1080)
    frame_bytes = 1920 * 1080 * 3
    for backend in ("decord", "pyav"):
        tracemalloc.start()
        frames, _, _ = decode_video(path, 2, backend=backend)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert frames.shape == (2, 1080, 1920, 3)
        assert peak < 3.5 * frame_bytes, (backend, peak / frame_bytes)  # 2 kept frames, not 8
    pixels = HiLightVideoProcessor(size=32, num_frames=2)(str(path))["pixel_values_videos"]
    assert pixels.shape == (1, 2, 3, 32, 32)


def test_variable_frame_rate_timestamps_are_the_real_ones(tmp_path):
    pts = [0, 40, 80, 300, 320, 900, 1000, 1010, 1020, 1500, 1600, 1700]
    path = write_video(tmp_path / "vfr.mp4", frames=12, pts=pts)
    for backend in ("decord", "pyav"):
        frames, meta, _ = decode_video(path, 12, backend=backend)
        np.testing.assert_allclose(meta.timestamps, np.array(pts) / 1000, atol=2e-3)
        assert decoded_frame_numbers(frames, 12) == list(range(12))


def test_odd_sizes_and_a_path_with_spaces_and_non_ascii(tmp_path):
    frames, meta, _ = decode_video(write_video(tmp_path / "odd.mp4", frames=10, width=63, height=47, pix_fmt="yuv444p"), 4)
    assert frames.shape == (4, 47, 63, 3) and (meta.width, meta.height) == (63, 47)
    path = write_video(tmp_path / "partie de billard ü 台球.mp4", frames=10)
    assert HiLightVideoProcessor(size=32, num_frames=4)(str(path))["pixel_values_videos"].shape == (1, 4, 3, 32, 32)
    expect_error(tmp_path / "manque ü 台球.mp4", "no such file")


def test_probe_reads_the_container_without_decoding_and_refuses_alike(tmp_path):
    from modeling_hilight.processing import probe_video

    write_video(tmp_path / "v.mp4", frames=36, width=64, height=48, fps=12)
    meta = probe_video(tmp_path / "v.mp4")
    with av.open(str(tmp_path / "v.mp4")) as container:
        stream = container.streams.video[0]
        assert (meta.total_num_frames, meta.fps, meta.width, meta.height) == (stream.frames, 12.0, 64, 48) == (36, 12.0, 64, 48)
        assert meta.duration == pytest.approx(float(stream.duration * stream.time_base)) == pytest.approx(3.0)
    (tmp_path / "notes.mp4").write_text("not a video")
    Image.new("RGB", (8, 8)).save(tmp_path / "red.mp4", format="PNG")
    for name, reason in (("notes.mp4", "not a readable video file"), ("red.mp4", "is a still image"),
                         ("missing.mp4", "no such file")):  # fmt: skip
        with pytest.raises(VideoDecodeError, match=rf"^{tmp_path / name}: {reason}"):
            probe_video(tmp_path / name)
