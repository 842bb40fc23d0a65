"""Slower checks at published sizes (`make test-slow`)."""

import numpy as np
import pytest
import torch
from video_fixtures import frame_value, write_video

from modeling_hilight import CLIPViPPlusConfig, CLIPViPPlusModel, HiLightVideoProcessor
from modeling_hilight.processing.video_decoding import sample_indices


@pytest.mark.slow
def test_published_size_clip_vip_runs_twelve_frames_and_block_attention_matches_dense():
    torch.manual_seed(0)
    model = CLIPViPPlusModel(CLIPViPPlusConfig(language_mask_policy="special_tokens")).eval()
    video = torch.randn(1, 12, 3, 224, 224)
    with torch.no_grad():
        out = model.vision_model(video)
        assert out.last_hidden_state.shape == (1, 4 + 12 * 196, 768)
        layer = model.vision_model.encoder.layers[0].self_attn
        x = torch.randn(1, 4 + 12 * 196, 768)
        from test_clip_vip_plus_model import dense_proxy_guided_attention

        torch.testing.assert_close(layer(x)[0], dense_proxy_guided_attention(layer, x, 12), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_ten_second_720p_clip_gives_the_sampled_frames(tmp_path):
    path = write_video(tmp_path / "long.mp4", frames=240, width=1280, height=720, fps=24)
    out = HiLightVideoProcessor(num_frames=12, resize_in_decoder=False)(str(path), return_metadata=True)
    meta = out["video_metadata"][0]
    assert out["pixel_values_videos"].shape == (1, 12, 3, 224, 224)
    assert meta["frames_indices"] == sample_indices(240, 12).tolist() and meta["duration"] == pytest.approx(10, abs=0.1)
    from modeling_hilight.processing.video_decoding import decode_video

    frames, _, _ = decode_video(path, 12)
    grey = [float(f.mean()) for f in frames]
    assert all(abs(g - frame_value(i)) < 4 for g, i in zip(grey, meta["frames_indices"]))  # the frames asked for
    assert np.allclose(np.array(meta["timestamps"]), np.array(meta["frames_indices"]) / 24, atol=1e-3)
