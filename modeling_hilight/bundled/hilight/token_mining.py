"""Token mining: fuse the two towers into vision tokens for the LLM.

Long-CLIP keyframe embeddings are the queries; CLIP-ViP's clip tokens are the keys and values.
Four variants, one class each:

* `ReferenceTokenMining`: the released HiLight module ("structure 3"), parameter names and all,
  so the published `token_mining.bin` loads key for key and reproduces its outputs.
* `Structure1TokenMining`, `Structure2TokenMining`: the paper's Figure 3 ablation (no per-tower
  projectors, so one query, and one vision token, per keyframe).
* `ImprovedTokenMining`: our design: learned per-slot queries conditioned on the keyframe,
  multi-head cross-attention with residual paths, and no final ReLU.

Every variant maps `clip_tokens [V, N, D_vip]`, `keyframe_embeds [V, K, D_long]` to
`[V, K * tokens_per_frame, D_text]`.
"""

import torch
import torch.nn.functional as F
from torch import nn


def single_head_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d)) V, no mask (the reference's formula, NaNs zeroed as it does)."""
    scores = query @ (key.transpose(-1, -2) / key.shape[-1] ** 0.5)
    return scores.nan_to_num().softmax(-1) @ value


class ReferenceTokenMining(nn.Module):
    """The released module. With V videos, N CLIP-ViP tokens and K keyframes (D = 512):

        kv     = ReLU(Linear_768->768(clip_tokens))                           CLIP_VIP_projector
        q0     = ReLU(Linear_1->32(keyframe_embeds viewed as V*K*D scalars))   LongCLIP_projector
        q0     = q0.view(V, K * 32, D)   # a memory reinterpretation, not a permute
        Q, K, V = Linear(LN(q0)), Linear(LN(kv)), Linear(LN(kv))              query/key/val_projector
        tokens = ReLU(Linear(ReLU(Linear_512->2048(LN(softmax(Q K^T / sqrt(D)) V)))))   tokenizer_projector
    """

    def __init__(self, clip_vip_width: int, long_clip_width: int, text_width: int, queries_per_frame: int = 32):
        super().__init__()
        self.queries_per_frame = queries_per_frame
        self.query_projector = nn.Sequential(nn.LayerNorm(long_clip_width), nn.Linear(long_clip_width, long_clip_width))
        self.key_projector = nn.Sequential(nn.LayerNorm(clip_vip_width), nn.Linear(clip_vip_width, long_clip_width))
        self.val_projector = nn.Sequential(nn.LayerNorm(clip_vip_width), nn.Linear(clip_vip_width, long_clip_width))
        self.LongCLIP_projector = nn.Sequential(nn.Linear(1, queries_per_frame), nn.ReLU())
        self.CLIP_VIP_projector = nn.Sequential(nn.Linear(clip_vip_width, clip_vip_width), nn.ReLU())
        self.tokenizer_projector = nn.Sequential(
            nn.LayerNorm(long_clip_width),
            nn.Linear(long_clip_width, text_width),
            nn.ReLU(),
            nn.Linear(text_width, text_width),
            nn.ReLU(),
        )

    def forward(self, clip_tokens: torch.Tensor, keyframe_embeds: torch.Tensor) -> torch.Tensor:
        videos, frames, width = keyframe_embeds.shape
        kv = self.CLIP_VIP_projector(clip_tokens)
        expanded = self.LongCLIP_projector(keyframe_embeds.reshape(videos * frames * width, 1))
        queries = expanded.view(videos, frames * self.queries_per_frame, width)  # keep: converted weights need it
        attended = single_head_attention(self.query_projector(queries), self.key_projector(kv), self.val_projector(kv))
        return self.tokenizer_projector(attended)


class Structure1TokenMining(nn.Module):
    """Figure 3, structure (1): one cross-attention and one Linear; a token per keyframe."""

    def __init__(self, clip_vip_width: int, long_clip_width: int, text_width: int, hidden: int):
        super().__init__()
        self.query_projector = nn.Sequential(nn.LayerNorm(long_clip_width), nn.Linear(long_clip_width, hidden))
        self.key_projector = nn.Sequential(nn.LayerNorm(clip_vip_width), nn.Linear(clip_vip_width, hidden))
        self.val_projector = nn.Sequential(nn.LayerNorm(clip_vip_width), nn.Linear(clip_vip_width, hidden))
        self.tokenizer_projector = self.output_head(hidden, text_width)

    def output_head(self, hidden: int, text_width: int) -> nn.Module:
        return nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, text_width))

    def forward(self, clip_tokens: torch.Tensor, keyframe_embeds: torch.Tensor) -> torch.Tensor:
        q = self.query_projector(keyframe_embeds)
        attended = single_head_attention(q, self.key_projector(clip_tokens), self.val_projector(clip_tokens))
        return self.tokenizer_projector(attended)


class Structure2TokenMining(Structure1TokenMining):
    """Figure 3, structure (2): as (1) with two Linear layers and ReLU after the attention."""

    def output_head(self, hidden: int, text_width: int) -> nn.Module:
        return nn.Sequential(
            nn.LayerNorm(hidden), nn.Linear(hidden, text_width), nn.ReLU(), nn.Linear(text_width, text_width), nn.ReLU()
        )


class ImprovedTokenMining(nn.Module):
    """Our variant. Query slot j of keyframe k is a learned slot vector plus the projected keyframe
    embedding; it cross-attends (multi-head) to the CLIP-ViP tokens with a residual, then an MLP
    with a residual, then a Linear into the LLM width. No final ReLU: tokens can be negative, like
    the LLM's own embeddings.

    `attention="frame"` restricts keyframe k's queries to the clip-level prefix tokens (CLS and
    proxies) and the patches of the clip frame nearest to it, the way CLIP-ViP's proxy-guided
    attention restricts a frame's patches. With `"clip"` every query sees the whole clip, so when
    the keyframe embeddings barely differ (a tower that has not learned to see), every keyframe's
    queries are alike and so are their tokens: the frames' differences never reach the LLM.
    """

    def __init__(self, clip_vip_width: int, long_clip_width: int, text_width: int, hidden: int,
                 queries_per_frame: int, num_heads: int, attention: str = "clip", num_prefix_tokens: int = 4,
                 patches_per_frame: int | None = None):  # fmt: skip
        super().__init__()
        if attention not in ("clip", "frame"):
            raise ValueError(f"token mining attention must be 'clip' or 'frame', got {attention!r}.")
        if attention == "frame" and not patches_per_frame:
            raise ValueError("token mining attention='frame' needs patches_per_frame.")
        self.num_heads = num_heads
        self.attention = attention
        self.num_prefix_tokens = num_prefix_tokens
        self.patches_per_frame = patches_per_frame
        self.slots = nn.Parameter(torch.zeros(queries_per_frame, hidden))
        self.keyframe_projector = nn.Linear(long_clip_width, hidden)
        self.query_norm = nn.LayerNorm(hidden)
        self.kv_norm = nn.LayerNorm(clip_vip_width)
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(clip_vip_width, hidden)
        self.v_proj = nn.Linear(clip_vip_width, hidden)
        self.o_proj = nn.Linear(hidden, hidden)
        self.mlp_norm = nn.LayerNorm(hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden))
        self.output_norm = nn.LayerNorm(hidden)
        self.output_projector = nn.Linear(hidden, text_width)

    def forward(self, clip_tokens: torch.Tensor, keyframe_embeds: torch.Tensor) -> torch.Tensor:
        videos, frames, _ = keyframe_embeds.shape
        queries = self.keyframe_projector(keyframe_embeds)[:, :, None, :] + self.slots  # [V, K, q, H]
        queries = queries.reshape(videos, -1, queries.shape[-1])

        def heads(x):
            return x.view(x.shape[0], x.shape[1], self.num_heads, -1).transpose(1, 2)

        kv = self.kv_norm(clip_tokens)
        q = self.q_proj(self.query_norm(queries))
        if self.attention == "frame":  # [V, K*q, H] -> [V*K, q, H] against [V*K, prefix + L, D]
            kv = self.frame_local(kv, frames)
            q = q.reshape(videos * frames, -1, q.shape[-1])
        attended = F.scaled_dot_product_attention(heads(q), heads(self.k_proj(kv)), heads(self.v_proj(kv)))
        attended = attended.transpose(1, 2).reshape(videos, -1, q.shape[-1])
        queries = queries + self.o_proj(attended)
        queries = queries + self.mlp(self.mlp_norm(queries))
        return self.output_projector(self.output_norm(queries))

    def attention_weights(self, clip_tokens: torch.Tensor, keyframe_embeds: torch.Tensor) -> torch.Tensor:
        """[V, K, q, M + L]: where each query of each keyframe looks (softmax weights, mean over heads)
        among the prefix tokens and its frame's patches; `attention="frame"` only."""
        if self.attention != "frame":
            raise ValueError("attention_weights needs token mining attention='frame'.")
        videos, frames, _ = keyframe_embeds.shape
        queries = self.keyframe_projector(keyframe_embeds)[:, :, None, :] + self.slots
        q = self.q_proj(self.query_norm(queries)).flatten(0, 1)  # [V*K, q, H]
        k = self.k_proj(self.frame_local(self.kv_norm(clip_tokens), frames))  # [V*K, M+L, H]
        q = q.view(*q.shape[:2], self.num_heads, -1).transpose(1, 2)
        k = k.view(*k.shape[:2], self.num_heads, -1).transpose(1, 2)
        weights = (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).softmax(-1).mean(1)
        return weights.view(videos, frames, *weights.shape[1:])

    def frame_local(self, clip_tokens: torch.Tensor, keyframes: int) -> torch.Tensor:
        """[V, M + T*L, D] -> [V*K, M + L, D]: for keyframe k, the prefix and the nearest clip frame."""
        videos, tokens, width = clip_tokens.shape
        prefix, patches = clip_tokens[:, : self.num_prefix_tokens], clip_tokens[:, self.num_prefix_tokens :]
        frames, rest = divmod(patches.shape[1], self.patches_per_frame)
        if rest:
            raise ValueError(
                f"token mining got {tokens} CLIP-ViP tokens: not {self.num_prefix_tokens} prefix tokens plus whole "
                f"frames of {self.patches_per_frame} patches."
            )
        nearest = torch.linspace(0, frames - 1, keyframes).round().long() if keyframes > 1 else torch.tensor([frames // 2])
        patches = patches.view(videos, frames, self.patches_per_frame, width)[:, nearest.to(clip_tokens.device)]
        prefix = prefix[:, None].expand(videos, keyframes, *prefix.shape[1:])
        return torch.cat([prefix, patches], dim=2).flatten(0, 1)


def build_token_mining(config) -> nn.Module:
    """The variant named by `config.token_mining_variant` (a `HiLightConfig`)."""
    vip, long_clip = config.clip_vip_config.hidden_size, config.long_clip_config.projection_dim
    text, hidden, variant = config.text_config.hidden_size, config.token_mining_hidden_size, config.token_mining_variant
    if variant == "reference":
        return ReferenceTokenMining(vip, long_clip, text, config.queries_per_frame)
    if variant == "structure1":
        return Structure1TokenMining(vip, long_clip, text, hidden)
    if variant == "structure2":
        return Structure2TokenMining(vip, long_clip, text, hidden)
    if variant == "improved":
        vip_config = config.clip_vip_config
        return ImprovedTokenMining(vip, long_clip, text, hidden, config.queries_per_frame, config.token_mining_num_heads,
                                   attention=config.token_mining_attention, num_prefix_tokens=vip_config.num_prefix_tokens,
                                   patches_per_frame=vip_config.num_patches_per_frame)  # fmt: skip
    raise ValueError(f"unknown token_mining_variant {variant!r}; choose reference, structure1, structure2 or improved.")


__all__ = [
    "ImprovedTokenMining",
    "ReferenceTokenMining",
    "Structure1TokenMining",
    "Structure2TokenMining",
    "build_token_mining",
]
