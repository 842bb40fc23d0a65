"""Tiny HiLight models and prompts shared by the HiLight tests."""

import torch

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration

BOS, VIDEO = 2, 127


def tiny_model(seed: int = 0, **config) -> HiLightForConditionalGeneration:
    torch.manual_seed(seed)
    return HiLightForConditionalGeneration(HiLightConfig.tiny(**config)).eval()


def prompt(model, text_ids, videos: int = 1, keyframes: int | None = None) -> torch.Tensor:
    """`<bos> [<video> x tokens] ... text` with one placeholder span per video, text after each span."""
    per_video = (keyframes or model.config.num_frames) * model.config.vision_tokens_per_frame
    ids = [BOS]
    for _ in range(videos):
        ids += [model.config.video_token_id] * per_video + list(text_ids)
    return torch.tensor([ids])


def frames(videos: int = 1, count: int = 12, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(videos, count, 3, 32, 32, generator=g)
