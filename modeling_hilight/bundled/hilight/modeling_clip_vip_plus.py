"""CLIP-ViP+: the HiLight video-text encoder.

CLIP-ViP (Xue et al., XPretrain) turns an image CLIP into a video CLIP with three changes, all in
this file: learned video proxy tokens after CLS, a temporal embedding added to patch tokens, and
proxy-guided attention (a patch attends to the proxies and its own frame; the CLS/proxy tokens
attend to the whole clip). HiLight's "+" is the SPARC local loss with a language mask
(sparc_loss.py, language_mask.py). Everything else is transformers' CLIP, reused as is, with the
same parameter names, so a CLIPModel checkpoint loads into it key for key.
"""

from collections.abc import Callable
from dataclasses import dataclass

import math

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.clip.modeling_clip import (
    CLIPAttention,
    CLIPEncoderLayer,
    CLIPPreTrainedModel,
    CLIPTextModel,
    CLIPVisionEmbeddings,
    eager_attention_forward,
)
from transformers.utils import ModelOutput

from .configuration_clip_vip_plus import CLIPViPPlusConfig, CLIPViPVisionConfig
from .grounding_loss import PatchGroundingLoss
from .language_mask import build_language_mask, special_token_ids, use_tokenizer
from .sparc_loss import SparcLocalLoss, VideoTextContrastiveLoss

MAX_LOGIT_SCALE = math.log(200.0)


class CLIPViPVideoEmbeddings(CLIPVisionEmbeddings):
    """Frames -> `[CLS, proxies, frame 0 patches, ..., frame T-1 patches]`.

    CLS and proxies share position embedding 0 and get no temporal embedding; a patch gets its
    spatial position embedding (1..L) plus its frame's temporal embedding.
    """

    def __init__(self, config: CLIPViPVisionConfig):
        super().__init__(config)
        self.add_cls_num = config.add_cls_num
        self.temporal_size = config.temporal_size
        self.max_frames = config.max_frames
        self.added_cls = nn.Parameter(torch.randn(config.add_cls_num, self.embed_dim))
        # only when used, so that a checkpoint trained without it loads strictly
        self.temporal_embedding = (
            nn.Parameter(torch.zeros(1, config.temporal_size, self.embed_dim)) if config.use_temporal_embedding else None
        )

    def temporal_embedding_for(self, num_frames: int) -> torch.Tensor:
        """[1, num_frames, D]; linear interpolation of the learned rows when num_frames differs."""
        if num_frames == self.temporal_size:
            return self.temporal_embedding
        table = self.temporal_embedding.transpose(1, 2)  # [1, D, temporal_size]
        return F.interpolate(table, size=num_frames, mode="linear", align_corners=False).transpose(1, 2)

    def forward(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        if pixel_values_videos.dim() != 5:
            raise ValueError(
                f"pixel_values_videos must have shape [batch, frames, channels, height, width], got "
                f"{tuple(pixel_values_videos.shape)}."
            )
        batch, frames, channels, height, width = pixel_values_videos.shape
        if not 1 <= frames <= self.max_frames:
            raise ValueError(f"pixel_values_videos has {frames} frames; this model accepts 1 to {self.max_frames}.")
        if height != self.image_size or width != self.image_size:
            raise ValueError(
                f"pixel_values_videos frames are {height}x{width}; this model takes {self.image_size}x{self.image_size}."
            )
        pixels = pixel_values_videos.reshape(batch * frames, channels, height, width)
        patches = self.patch_embedding(pixels.to(self.patch_embedding.weight.dtype))  # [B*T, D, g, g]
        patches = patches.flatten(2).transpose(1, 2).reshape(batch, frames, self.num_patches, self.embed_dim)

        positions = self.position_embedding(self.position_ids)  # [1, 1 + L, D]
        patches = patches + positions[:, None, 1:]
        if self.temporal_embedding is not None:
            patches = patches + self.temporal_embedding_for(frames)[:, :, None, :]

        prefix = torch.cat([self.class_embedding[None], self.added_cls], dim=0)  # [M, D]
        prefix = (prefix + positions[0, :1]).expand(batch, -1, -1)
        return torch.cat([prefix, patches.reshape(batch, frames * self.num_patches, self.embed_dim)], dim=1)


class CLIPViPProxyGuidedAttention(CLIPAttention):
    """CLIP attention with CLIP-ViP's proxy-guided pattern, computed block by block.

    With M prefix tokens (CLS + proxies) and T frames of L patches:
      * the M prefix tokens attend to all M + T*L tokens;
      * the L patches of frame t attend to the M prefix tokens and the L patches of frame t.
    Computing the frames as a batch of T small attentions needs M*(M+TL) + T*L*(M+L) score entries
    instead of (M+TL)^2 (about 11 times fewer at T=12, L=196). Weights and names are CLIP's.
    """

    def __init__(self, config: CLIPViPVisionConfig):
        super().__init__(config)
        self.num_prefix = config.num_prefix_tokens
        self.patches_per_frame = config.num_patches_per_frame

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        batch, length, _ = hidden_states.shape

        def heads(x):  # [B, N, D] -> [B, H, N, d]
            return x.view(batch, length, -1, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q_proj(hidden_states)), heads(self.k_proj(hidden_states)), heads(self.v_proj(hidden_states))
        out = self.proxy_guided_attention(q, k, v)  # [B, N, H*d]
        return self.out_proj(out), None

    def proxy_guided_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q, k, v [B, H, M + T*L, d] -> attention output [B, M + T*L, H*d], block by block."""
        batch, num_heads, length, head_dim = q.shape
        prefix, per_frame = self.num_prefix, self.patches_per_frame
        frames = (length - prefix) // per_frame
        if prefix + frames * per_frame != length:
            raise ValueError(
                f"Proxy-guided attention got {length} tokens, which is not {prefix} prefix tokens plus whole "
                f"frames of {per_frame} patches."
            )
        attention: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        dropout = self.dropout if self.training else 0.0

        # 1) CLS and proxies see the whole clip.
        prefix_out, _ = attention(self, q[:, :, :prefix], k, v, None, scaling=self.scale, dropout=dropout)

        # 2) Each frame's patches see the prefix and their own frame: T independent attentions.
        def by_frame(x):  # [B, H, T*L, d] -> [B*T, H, L, d]
            x = x[:, :, prefix:].reshape(batch, num_heads, frames, per_frame, head_dim)
            return x.transpose(1, 2).reshape(batch * frames, num_heads, per_frame, head_dim)

        def with_prefix(x):  # keys/values of frame t: [prefix, frame t] -> [B*T, H, M+L, d]
            shared = x[:, :, :prefix].unsqueeze(1).expand(batch, frames, num_heads, prefix, head_dim)
            return torch.cat([shared.reshape(batch * frames, num_heads, prefix, head_dim), by_frame(x)], dim=2)

        frame_out, _ = attention(
            self, by_frame(q), with_prefix(k), with_prefix(v), None, scaling=self.scale, dropout=dropout
        )  # [B*T, L, H, d]
        frame_out = frame_out.reshape(batch, frames * per_frame, num_heads * head_dim)
        return torch.cat([prefix_out.reshape(batch, prefix, num_heads * head_dim), frame_out], dim=1)


class CLIPViPEncoderLayer(CLIPEncoderLayer):
    """A CLIP encoder layer whose self-attention is proxy-guided."""

    def __init__(self, config: CLIPViPVisionConfig):
        super().__init__(config)
        self.self_attn = CLIPViPProxyGuidedAttention(config)


class CLIPViPEncoder(nn.Module):
    def __init__(self, config: CLIPViPVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList([CLIPViPEncoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.gradient_checkpointing = False

    def forward(self, hidden_states: torch.Tensor, output_hidden_states: bool = False):
        all_hidden = (hidden_states,) if output_hidden_states else None
        for layer in self.layers:
            hidden_states = layer(hidden_states, None)
            if output_hidden_states:
                all_hidden = all_hidden + (hidden_states,)
        return hidden_states, all_hidden


class CLIPViPPreTrainedModel(CLIPPreTrainedModel):
    """Weight initialisation: transformers' CLIP scheme, plus the CLIP-ViP and CLIP-ViP+ additions."""

    config: CLIPViPPlusConfig
    base_model_prefix = "clip_vip_plus"
    input_modalities = ("video", "text")
    _no_split_modules = ["CLIPTextEmbeddings", "CLIPEncoderLayer", "CLIPViPEncoderLayer", "CLIPViPVideoEmbeddings"]
    _supports_flash_attn = False  # the per-frame attention calls the interface without masks, SDPA and eager only
    _supports_flex_attn = False
    _can_record_outputs = {}

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        factor = self.config.initializer_factor
        if isinstance(module, CLIPViPVideoEmbeddings):
            init.normal_(module.added_cls, mean=0.0, std=1.0)  # the reference's torch.randn
            if module.temporal_embedding is not None:
                init.zeros_(module.temporal_embedding)
        elif isinstance(module, CLIPViPPlusModel):
            for head in (module.text_projection, module.local_text_projection):
                if head is not None:
                    init.normal_(head.weight, std=module.text_embed_dim**-0.5 * factor)
            for head in (module.visual_projection, module.local_visual_projection):
                if head is not None:
                    init.normal_(head.weight, std=module.vision_embed_dim**-0.5 * factor)
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)


class CLIPViPVisionModel(CLIPViPPreTrainedModel):
    """The CLIP-ViP video tower alone: what HiLight uses.

    `last_hidden_state` is the encoder output before `post_layernorm`, all 1 + add_cls_num + T*L
    tokens; `pooler_output` is `post_layernorm(CLS)`. With `output_hidden_states`, `hidden_states[0]`
    is the embedding-layer output (before `pre_layrnorm`) and `hidden_states[i]` layer i's output.
    """

    config: CLIPViPVisionConfig
    main_input_name = "pixel_values_videos"
    input_modalities = ("video",)
    base_model_prefix = "vision_model"

    def __init__(self, config: CLIPViPVisionConfig):
        super().__init__(config)
        self.embeddings = CLIPViPVideoEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)  # (sic) CLIP's name
        self.encoder = CLIPViPEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def forward(
        self, pixel_values_videos: torch.Tensor, output_hidden_states: bool | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        embeddings = self.embeddings(pixel_values_videos)
        last, hidden = self.encoder(self.pre_layrnorm(embeddings), output_hidden_states=bool(output_hidden_states))
        return BaseModelOutputWithPooling(
            last_hidden_state=last,
            pooler_output=self.post_layernorm(last[:, 0]),
            hidden_states=(embeddings,) + hidden[1:] if hidden is not None else None,
        )


@dataclass
class CLIPViPPlusOutput(ModelOutput):
    r"""
    loss: `global_loss_weight * loss_global + local_loss_weight * loss_local` (with `return_loss`).
    loss_global: symmetric video-text InfoNCE.
    loss_local: SPARC local loss (zero when `local_loss_placement == "none"`).
    logits_per_video [videos, texts], logits_per_text [texts, videos]: scaled cosine similarities.
    video_embeds, text_embeds: L2-normalised projected embeddings.
    local_text_tokens [B, T, D] / local_video_tokens [B, P, D] (or per layer, tuples, for "all_layers"):
        the projected token and patch embeddings the local loss used.
    language_mask [B, T]: True where a text token took part in the local loss.
    """

    loss: torch.Tensor | None = None
    loss_global: torch.Tensor | None = None
    loss_local: torch.Tensor | None = None
    logits_per_video: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    video_embeds: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    loss_grounding: torch.Tensor | None = None
    local_text_tokens: torch.Tensor | tuple[torch.Tensor, ...] | None = None
    local_video_tokens: torch.Tensor | tuple[torch.Tensor, ...] | None = None
    language_mask: torch.Tensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    vision_model_output: BaseModelOutputWithPooling | None = None

    def to_tuple(self):
        return tuple(v.to_tuple() if isinstance(v, ModelOutput) else v for v in self.values())


class CLIPViPPlusModel(CLIPViPPreTrainedModel):
    """CLIP-ViP video-text dual encoder trained with a global and a SPARC local loss.

    Parameter names follow transformers' `CLIPModel` (`text_model.*`, `vision_model.*`,
    `visual_projection`, `text_projection`, `logit_scale`); CLIP-ViP adds
    `vision_model.embeddings.added_cls` and `.temporal_embedding`, CLIP-ViP+ adds the local heads.
    """

    config: CLIPViPPlusConfig
    main_input_name = "input_ids"

    def __init__(self, config: CLIPViPPlusConfig):
        super().__init__(config)
        text_config, vision_config = config.text_config, config.vision_config
        self.text_embed_dim = text_config.hidden_size
        self.vision_embed_dim = vision_config.hidden_size

        self.text_model = CLIPTextModel._from_config(text_config)
        self.vision_model = CLIPViPVisionModel._from_config(vision_config)
        self.visual_projection = nn.Linear(self.vision_embed_dim, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(self.text_embed_dim, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))

        separate = config.local_loss_placement != "none" and config.local_projection == "separate"
        self.local_visual_projection = (
            nn.Linear(self.vision_embed_dim, config.projection_dim, bias=False) if separate else None
        )
        self.local_text_projection = nn.Linear(self.text_embed_dim, config.projection_dim, bias=False) if separate else None

        self.global_loss = VideoTextContrastiveLoss()
        self.local_loss = SparcLocalLoss(config.sparsity_threshold)
        self.grounding_loss = PatchGroundingLoss(config.grounding_logit_scale)
        self.post_init()

    # -- features --------------------------------------------------------------------------------

    def get_video_features(self, pixel_values_videos: torch.Tensor, **kwargs) -> BaseModelOutputWithPooling:
        """`pooler_output` is the projected (not normalised) video embedding."""
        outputs = self.vision_model(pixel_values_videos, **kwargs)
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)
        return outputs

    def get_text_features(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        """`pooler_output` is the projected (not normalised) text embedding (at the end token)."""
        outputs = self.text_model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **kwargs)
        outputs.pooler_output = self.text_projection(outputs.pooler_output)
        return outputs

    # -- training helpers ------------------------------------------------------------------------

    @torch.no_grad()
    def clamp_logit_scale_(self) -> None:
        """Clamp `logit_scale` to [0, ln 200] in place. CLIP-ViP does this after every optimiser step
        (the encoder stage's Trainer callback calls it); the forward pass uses the value as it is, so
        the parameter keeps its gradient."""
        self.logit_scale.clamp_(0, MAX_LOGIT_SCALE)

    def use_tokenizer(self, tokenizer, stopwords=None) -> None:
        """Take pad/bos/eos and the stop-word ids of the language mask from `tokenizer`
        (see `language_mask.use_tokenizer`)."""
        use_tokenizer(self.config, tokenizer, stopwords)
        self.text_model.eos_token_id = self.config.text_config.eos_token_id  # where it pools

    # -- the local loss --------------------------------------------------------------------------

    def language_mask(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """Tokens that take part in the local loss, by `config.language_mask_policy`."""
        policy = self.config.language_mask_policy
        excluded = special_token_ids(self.config.text_config)
        if policy in ("stopwords", "token_ids"):
            if not self.config.language_mask_token_ids:
                raise ValueError(
                    f"language_mask_policy={policy!r} needs config.language_mask_token_ids; fill it with "
                    "`model.use_tokenizer(tokenizer)` (the stop words' ids) or your own ids, or use the policy "
                    "'special_tokens'."
                )
            excluded |= set(self.config.language_mask_token_ids)
        return build_language_mask(input_ids, attention_mask, excluded)

    def _local_features(self, text_outputs, vision_outputs):
        """Per local-loss level: (text tokens [B, T, Dt], patch tokens [B, T*L, Dv]) before projection."""
        placement = self.config.local_loss_placement
        prefix = self.config.vision_config.num_prefix_tokens
        final_text_ln, final_vision_ln = self.text_model.final_layer_norm, self.vision_model.post_layernorm
        if placement == "pre_projection":
            return [(text_outputs.last_hidden_state, final_vision_ln(vision_outputs.last_hidden_state[:, prefix:]))]
        if placement == "embeddings":
            return [(text_outputs.hidden_states[0], vision_outputs.hidden_states[0][:, prefix:])]
        # all_layers: every encoder layer's output, after the tower's final norm
        return [
            (final_text_ln(text_h), final_vision_ln(vision_h[:, prefix:]))
            for text_h, vision_h in zip(text_outputs.hidden_states[1:], vision_outputs.hidden_states[1:])
        ]

    def _local_loss(self, text_outputs, vision_outputs, language_mask, scale):
        levels = self._local_features(text_outputs, vision_outputs)
        text_head = self.local_text_projection or self.text_projection
        video_head = self.local_visual_projection or self.visual_projection
        weights = torch.linspace(0.1, 1.0, len(levels)).tolist() if len(levels) > 1 else [1.0]
        losses, texts, videos = [], [], []
        for text_h, patch_h in levels:
            text_tokens, patch_tokens = text_head(text_h), video_head(patch_h)
            texts.append(text_tokens)
            videos.append(patch_tokens)
            if self.config.patch_scope == "frame":
                # each frame is grounded on its own: T samples of P = L patches with the same text
                frames = patch_tokens.shape[1] // self.config.vision_config.num_patches_per_frame
                per_frame = patch_tokens.reshape(patch_tokens.shape[0] * frames, -1, patch_tokens.shape[-1])
                loss = self.local_loss(
                    text_tokens.repeat_interleave(frames, 0), per_frame, language_mask.repeat_interleave(frames, 0), scale
                )
            else:
                loss = self.local_loss(text_tokens, patch_tokens, language_mask, scale)
            losses.append(loss)
        # summed, not averaged: the paper keeps the last layer's loss at full weight
        total = sum(w * l for w, l in zip(weights, losses))
        if len(levels) == 1:
            return total, texts[0], videos[0]
        return total, tuple(texts), tuple(videos)

    # -- forward ---------------------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        language_mask: torch.Tensor | None = None,
        grounding_targets: torch.Tensor | None = None,
        return_loss: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> CLIPViPPlusOutput:
        r"""
        input_ids [B, T], attention_mask [B, T]: the captions. pixel_values_videos [B, F, 3, H, W].
        language_mask [B, T] (optional): True where a token takes part in the local loss; by default
            it is built by `config.language_mask_policy`.
        grounding_targets [N, 4] (optional): rows (sample, text token, frame, patch): that token names
            the object whose centre lies in that patch of that frame (see grounding_loss.py); adds
            `grounding_loss_weight * loss_grounding` to the loss.
        return_loss: compute `loss`, `loss_global` and `loss_local`.
        """
        if input_ids is None or pixel_values_videos is None:
            raise ValueError("CLIPViPPlusModel.forward needs both input_ids and pixel_values_videos.")
        placement = self.config.local_loss_placement
        local = bool(return_loss) and placement != "none"
        need_hidden = bool(output_hidden_states) or (local and placement in ("embeddings", "all_layers"))

        vision_outputs = self.vision_model(pixel_values_videos, output_hidden_states=need_hidden)
        text_outputs = self.text_model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=need_hidden, return_dict=True
        )
        video_embeds = F.normalize(self.visual_projection(vision_outputs.pooler_output), dim=-1)
        text_embeds = F.normalize(self.text_projection(text_outputs.pooler_output), dim=-1)

        scale = self.logit_scale.exp()  # clamped after each optimiser step (clamp_logit_scale_), not here
        logits_per_text = scale * text_embeds @ video_embeds.t()

        loss = loss_global = loss_local = loss_grounding = local_text = local_video = None
        if return_loss:
            loss_global = self.global_loss(logits_per_text)
            loss_local = loss_global.new_zeros(())
            if local:
                if language_mask is None:
                    language_mask = self.language_mask(input_ids, attention_mask)
                loss_local, local_text, local_video = self._local_loss(text_outputs, vision_outputs, language_mask, scale)
            loss = self.config.global_loss_weight * loss_global + self.config.local_loss_weight * loss_local
            if grounding_targets is not None and self.config.grounding_loss_weight:
                if not local:
                    raise ValueError("grounding_targets need the local features: set local_loss_placement.")
                text_tokens = local_text[-1] if isinstance(local_text, tuple) else local_text
                patch_tokens = local_video[-1] if isinstance(local_video, tuple) else local_video
                loss_grounding = self.grounding_loss(
                    text_tokens, patch_tokens, grounding_targets, self.config.vision_config.num_patches_per_frame
                )
                loss = loss + self.config.grounding_loss_weight * loss_grounding

        return CLIPViPPlusOutput(
            loss=loss,
            loss_global=loss_global,
            loss_local=loss_local,
            loss_grounding=loss_grounding,
            logits_per_video=logits_per_text.t(),
            logits_per_text=logits_per_text,
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            local_text_tokens=local_text,
            local_video_tokens=local_video,
            language_mask=language_mask,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )


__all__ = ["CLIPViPPlusModel", "CLIPViPPlusOutput", "CLIPViPVisionModel", "CLIPViPPreTrainedModel"]
