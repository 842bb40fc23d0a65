"""HiLightVideoProcessor: transforms against independent computations, batches, threads, keyframes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from video_fixtures import write_video

from modeling_hilight import HiLightVideoProcessor
from modeling_hilight.processing.video_processing_hilight import CLIP_MEAN, CLIP_STD


def test_constant_frames_normalise_to_clip_statistics():
    video = np.full((5, 30, 50, 3), 200, np.uint8)
    out = HiLightVideoProcessor(size=16, num_frames=3)(video)["pixel_values_videos"]
    assert out.shape == (1, 3, 3, 16, 16)
    for c in range(3):
        torch.testing.assert_close(out[0, :, c], torch.full((3, 16, 16), (200 / 255 - CLIP_MEAN[c]) / CLIP_STD[c]))


def test_squash_is_a_bicubic_resize_of_the_whole_frame_and_crop_keeps_the_centre():
    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, (2, 20, 40, 3), dtype=np.uint8)
    squash = HiLightVideoProcessor(size=10, num_frames=2)(video)["pixel_values_videos"][0]
    x = torch.from_numpy(video).permute(0, 3, 1, 2).float()
    want = F.interpolate(x, size=(10, 10), mode="bicubic", antialias=True).div(255).clamp(0, 1)
    want = (want - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(squash, want)
    # crop: a frame whose left and right quarters are white and centre black keeps only black
    frame = np.zeros((20, 40, 3), np.uint8)
    frame[:, :10] = frame[:, 30:] = 255
    crop = HiLightVideoProcessor(size=20, num_frames=1, resize_mode="crop")(frame[None])["pixel_values_videos"][0, 0]
    torch.testing.assert_close(crop[0], torch.full((20, 20), -CLIP_MEAN[0] / CLIP_STD[0]))


def test_batch_of_paths_threaded_equals_sequential_and_keeps_order(tmp_path):
    paths = [str(write_video(tmp_path / f"v{i}.mp4", frames=10 + 7 * i)) for i in range(4)]
    threaded = HiLightVideoProcessor(size=16, num_frames=5, num_decode_threads=4)(paths, return_metadata=True)
    sequential = HiLightVideoProcessor(size=16, num_frames=5, num_decode_threads=1)(paths)
    assert torch.equal(threaded["pixel_values_videos"], sequential["pixel_values_videos"])
    assert [m["total_num_frames"] for m in threaded["video_metadata"]] == [10, 17, 24, 31]
    assert [m["source"] for m in threaded["video_metadata"]] == paths


def test_separate_keyframes_and_per_call_overrides(tmp_path):
    path = str(write_video(tmp_path / "v.mp4", frames=30))
    processor = HiLightVideoProcessor(size=16, num_frames=8, num_keyframes=3)
    out = processor(path)
    assert out["pixel_values_videos"].shape == (1, 8, 3, 16, 16)
    assert out["pixel_values_keyframes"].shape == (1, 3, 3, 16, 16)
    assert processor.frames_for_tokens == 3
    assert "video_metadata" not in out  # transformers' convention: only when asked
    out = processor(path, indices=[1, 2], return_metadata=True)
    assert out["video_metadata"][0]["frames_indices"] == [1, 2]
    same = HiLightVideoProcessor(size=16, num_frames=4, sampling="jitter")
    a, b = same(path, seed=3), same(path, seed=3)
    assert torch.equal(a["pixel_values_videos"], b["pixel_values_videos"])
    with pytest.raises(TypeError, match="unexpected arguments: \\['frames'\\]"):
        processor(path, frames=3)
    with pytest.raises(ValueError, match="sampling must be one of"):
        HiLightVideoProcessor(sampling="random")


def test_save_and_load_round_trip(tmp_path):
    from transformers.models.auto.video_processing_auto import AutoVideoProcessor

    processor = HiLightVideoProcessor(size=48, num_frames=6, num_keyframes=2, resize_mode="crop", sampling="jitter")
    processor.save_pretrained(tmp_path)
    loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is HiLightVideoProcessor
    for key in ("size", "num_frames", "num_keyframes", "resize_mode", "sampling", "image_mean", "image_std"):
        assert getattr(loaded, key) == getattr(processor, key), key


def test_resizing_in_the_decoder_matches_torch_bicubic_on_both_backends(tmp_path):
    import av

    path = tmp_path / "smooth.mp4"
    yy, xx = np.mgrid[0:96, 0:128]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10, options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv444p"
        for i in range(6):
            image = np.stack([xx * 2, yy * 2, np.full_like(xx, 40 * i)], -1).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    reference = HiLightVideoProcessor(size=32, num_frames=3, resize_in_decoder=False)(str(path))["pixel_values_videos"]
    for backend in ("decord", "pyav"):
        fast = HiLightVideoProcessor(size=32, num_frames=3, decode_backend=backend)(str(path))["pixel_values_videos"]
        assert fast.shape == reference.shape
        # one grey level is 1/255/0.27 ~ 0.015 in normalised units: the scalers agree to a few levels
        assert (fast - reference).abs().mean() < 0.05, backend
