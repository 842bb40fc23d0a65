"""Frame sampling and decoding: only sampled frames, right indices, both backends, every input kind."""

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from video_fixtures import decoded_frame_numbers, write_video

from modeling_hilight.processing.video_decoding import VideoDecodeError, decode_video, sample_indices


def test_uniform_sampling_is_the_reference_truncated_linspace():
    # HiLight's and CLIP-ViP's np.linspace(0, n - 1, 12).astype(int): 0 8.09 16.18 ... 80.91 89 on 90 frames
    assert sample_indices(90, 12).tolist() == [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 89]
    rounded = np.linspace(0, 89, 12).round().astype(int)
    assert (sample_indices(90, 12) != rounded).sum() == 5  # what rounding, the earlier rule, changed
    assert sample_indices(5, 12).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4]  # repeats, never fails
    assert sample_indices(1, 3).tolist() == [0, 0, 0]


def clip_vip_jitter(total: int, num: int, draws: list[int]) -> list[int]:
    """CLIP-ViP's training rule written out (XPretrain CLIP-ViP/src/datasets/dataset_video_retrieval.py,
    `get_sample_idx` with sample_rate 0 and sample_jitter), with its two random draws given."""
    interval = int(total / (num - 1))
    start, end = draws
    assert 0 <= start <= interval and total - 1 - interval <= end <= total - 1
    return np.linspace(start, end, num).astype(int).tolist()


def test_jitter_is_clip_vips_rule_moving_each_bound_by_up_to_a_whole_interval():
    rng = np.random.default_rng(0)
    starts, ends = set(), set()
    for _ in range(400):
        idx = sample_indices(111, 12, "jitter", rng=rng).tolist()  # interval = int(111 / 11) = 10
        assert idx == clip_vip_jitter(111, 12, [idx[0], idx[-1]])
        starts.add(idx[0])
        ends.add(idx[-1])
    assert starts == set(range(0, 11)) and ends == set(range(100, 111))  # every bound a whole interval allows
    # the draws are start then end, each uniform over its range
    rng, twin = np.random.default_rng(7), np.random.default_rng(7)
    draws = [int(twin.integers(0, 11)), int(twin.integers(100, 111))]
    assert sample_indices(111, 12, "jitter", rng=rng).tolist() == clip_vip_jitter(111, 12, draws)


def test_fps_and_explicit_indices():
    assert sample_indices(48, None, "fps", fps=2, video_fps=24).tolist() == [0, 12, 24, 36]
    assert sample_indices(48, 2, "fps", fps=2, video_fps=24).tolist() == [0, 36]
    assert sample_indices(10, None, "indices", indices=[3, 1]).tolist() == [3, 1]
    with pytest.raises(VideoDecodeError, match=r"frame indices \[10\] are outside 0..9"):
        sample_indices(10, None, "indices", indices=[3, 10])
    with pytest.raises(ValueError, match="unknown sampling strategy 'random'"):
        sample_indices(10, 4, "random")


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_decoded_frames_are_the_sampled_ones(tmp_path, backend):
    path = write_video(tmp_path / "v.mp4", frames=40)
    frames, meta, keyframes = decode_video(path, 12, backend=backend)
    assert frames.shape == (12, 48, 64, 3) and frames.dtype == np.uint8 and keyframes is None
    assert meta.backend == backend and meta.total_num_frames == 40 and meta.fps == 24
    assert decoded_frame_numbers(frames, 40) == meta.frames_indices == sample_indices(40, 12).tolist()
    np.testing.assert_allclose(meta.timestamps, np.array(meta.frames_indices) / 24, atol=1e-3)
    assert meta.duration == pytest.approx(40 / 24, abs=0.05)


def test_backends_agree_and_keyframes_come_from_the_same_decode(tmp_path):
    path = write_video(tmp_path / "v.mp4", frames=40)
    a, _, ka = decode_video(path, 12, backend="decord", num_keyframes=4)
    b, _, kb = decode_video(path, 12, backend="pyav", num_keyframes=4)
    assert np.array_equal(a, b) and np.array_equal(ka, kb)
    assert decoded_frame_numbers(ka, 40) == sample_indices(40, 4).tolist()


def test_pyav_stops_after_the_last_sampled_frame(tmp_path, monkeypatch):
    import av

    path = write_video(tmp_path / "v.mp4", frames=60)
    converted = []
    original = av.VideoFrame.to_ndarray
    monkeypatch.setattr(av.VideoFrame, "to_ndarray", lambda self, *a, **k: converted.append(1) or original(self, *a, **k))
    decode_video(path, None, "indices", indices=[2, 5, 9], backend="pyav")
    assert len(converted) == 3  # only the sampled frames become arrays


def test_pyav_seeks_to_the_keyframe_before_each_sampled_frame_and_matches_decord(tmp_path, monkeypatch):
    import av

    from modeling_hilight.processing import video_decoding

    path = write_video(tmp_path / "v.mp4", frames=40, gop=4)  # B-frames too (x264's default)
    with av.open(str(path)) as container:
        assert sum(p.is_keyframe for p in container.demux() if p.size) >= 10
    decoded = []
    original = video_decoding._frames_after

    def counting(*args):
        for frame in original(*args):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(video_decoding, "_frames_after", counting)
    wanted = [1, 13, 14, 27, 38]
    frames, meta, _ = decode_video(path, None, "indices", indices=wanted, backend="pyav")
    reference, _, _ = decode_video(path, None, "indices", indices=wanted, backend="decord")
    assert meta.backend == "pyav" and np.array_equal(frames, reference)  # the very same pixels as decord
    assert decoded_frame_numbers(frames, 40) == wanted
    assert 5 <= len(decoded) <= 16  # from the keyframes 0, 12, 24, 36; a sequential decode goes through 39 frames
    # with the timestamps missing from the packets it decodes in order from the start, same frames
    decoded.clear()
    monkeypatch.setattr(video_decoding, "_frame_table", lambda container, stream: None)
    again, _, _ = decode_video(path, None, "indices", indices=wanted, backend="pyav")
    assert np.array_equal(again, frames) and len(decoded) == 39


def test_bytes_file_objects_arrays_tensors_and_frame_lists(tmp_path):
    path = write_video(tmp_path / "v.mp4", frames=20)
    from_path, _, _ = decode_video(path, 5)
    data = path.read_bytes()
    assert np.array_equal(decode_video(data, 5)[0], from_path)
    assert np.array_equal(decode_video(io.BytesIO(data), 5)[0], from_path)
    with open(path, "rb") as handle:
        assert np.array_equal(decode_video(handle, 5)[0], from_path)
    array = np.random.default_rng(0).integers(0, 255, (9, 8, 10, 3), dtype=np.uint8)
    frames, meta, _ = decode_video(array, 3, video_fps=3)
    assert np.array_equal(frames, array[[0, 4, 8]]) and meta.timestamps == [0, 4 / 3, 8 / 3]
    assert np.array_equal(decode_video(torch.from_numpy(array), 3)[0], frames)
    assert np.array_equal(decode_video(list(array), 3)[0], frames)
    with pytest.raises(VideoDecodeError, match=r"expected \[T, H, W, 3\] frames, got shape \(9, 8, 10\)"):
        decode_video(array[..., 0], 3)
    with pytest.raises(VideoDecodeError, match="expected uint8 RGB frames, got float32"):
        decode_video(array.astype(np.float32), 3)


@settings(max_examples=60, deadline=None)
@given(total=st.integers(1, 400), num=st.integers(1, 64), strategy=st.sampled_from(["uniform", "jitter"]),
       seed=st.integers(0, 1000))  # fmt: skip
def test_sampling_property(total, num, strategy, seed):
    idx = sample_indices(total, num, strategy, rng=np.random.default_rng(seed))
    assert len(idx) == num and idx.min() >= 0 and idx.max() <= total - 1 and (np.diff(idx) >= 0).all()
    if strategy == "uniform":
        assert idx.tolist() == np.linspace(0, total - 1, num).astype(int).tolist()


@settings(max_examples=30, deadline=None)
@given(t=st.integers(1, 20), h=st.integers(1, 12), w=st.integers(1, 12), num=st.integers(1, 16))
def test_array_inputs_property(t, h, w, num):
    array = np.arange(t * h * w * 3, dtype=np.uint32).reshape(t, h, w, 3).astype(np.uint8)
    frames, meta, _ = decode_video(array, num)
    assert frames.shape == (num, h, w, 3)
    assert np.array_equal(frames, array[sample_indices(t, num)])


def test_pyav_takes_over_when_decord_cannot_be_imported_and_says_why_once(tmp_path, monkeypatch, caplog):
    import sys

    from modeling_hilight.processing import video_decoding

    path = write_video(tmp_path / "v.mp4", frames=20)
    expected, _, _ = decode_video(path, 5, backend="decord")
    monkeypatch.setattr(video_decoding, "choose_backend", lambda info, indices: "decord")  # a file decord would take
    monkeypatch.setitem(sys.modules, "decord", None)  # as on a platform without decord wheels
    monkeypatch.setattr(video_decoding, "_logged_reasons", set())
    frames, meta, _ = decode_video(path, 5)
    decode_video(path, 5)
    assert meta.backend == "pyav" and np.array_equal(frames, expected)
    assert caplog.text.count("decord unavailable or failing, using PyAV instead: decord cannot be imported") == 1
