"""Tiny CLIP-ViP+ configurations shared by the CLIP-ViP+ tests."""

import torch

from modeling_hilight import CLIPViPPlusConfig

PAD, BOS, EOS = 0, 1, 2
VOCAB = 64


def tiny_config(**overrides) -> CLIPViPPlusConfig:
    text = dict(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=16, pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS,
    )
    vision = dict(
        hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, image_size=32,
        patch_size=8, temporal_size=4, add_cls_num=3,
    )
    text.update(overrides.pop("text_config", {}))
    vision.update(overrides.pop("vision_config", {}))
    overrides.setdefault("projection_dim", 24)
    overrides.setdefault("language_mask_policy", "special_tokens")
    return CLIPViPPlusConfig(text_config=text, vision_config=vision, **overrides)


def captions(batch: int = 3, length: int = 9, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random captions `<bos> w1 .. wn <eos> <pad>..` of different lengths, and their attention mask."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.full((batch, length), PAD)
    mask = torch.zeros(batch, length, dtype=torch.long)
    for b in range(batch):
        n = length - b  # sample b has b padding tokens
        ids[b, 0], ids[b, n - 1] = BOS, EOS
        ids[b, 1 : n - 1] = torch.randint(3, VOCAB, (n - 2,), generator=g)
        mask[b, :n] = 1
    return ids, mask


def videos(batch: int = 3, frames: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 3, size, size, generator=g)
