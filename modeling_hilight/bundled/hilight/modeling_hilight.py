"""HiLight: a video chat model. Follow one video through this file from top to bottom:

    pixel_values_videos [V, T, 3, H, W]
      -> CLIP-ViP+ (the whole clip)          last_hidden_state [V, 4 + T*L, D_vip]   (no post-LN)
      -> Long-CLIP (each keyframe)           image_embeds      [V, K, D_long]         (not normalised)
      -> token mining (token_mining.py)      vision tokens     [V, K * q, D_text]
      -> scattered into the prompt where input_ids == video_token_id (the processor put K * q there)
      -> the decoder LLM (any transformers decoder)

`generate()` computes the vision tokens once, before prefill and before beams are expanded (it calls
`get_video_features` and passes the result as `mm_encoder_outputs`), so the towers and token mining
never run again while decoding, and each expanded sequence gets its own group of videos in order.

All vision logic lives in `HiLightModel`, the base model: TRL's SFTTrainer replaces the forward of
`HiLightForConditionalGeneration` and calls the base model and `lm_head` directly.
"""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import CLIPVisionModelWithProjection, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPast, BaseModelOutputWithPooling, CausalLMOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.auto import AutoModel
from transformers.models.clip.modeling_clip import CLIPVisionModelOutput
from transformers.models.clip.modeling_clip import eager_attention_forward as clip_eager_attention
from transformers.utils import logging

from .configuration_hilight import HiLightConfig
from .modeling_clip_vip_plus import CLIPViPVisionModel
from .grounding_loss import QueryGroundingLoss
from .token_mining import ImprovedTokenMining, build_token_mining

logger = logging.get_logger(__name__)
LORA_FIX = (
    "Build the LoRA config with `modeling_hilight.training.lora.hilight_lora_config(model)`, or confine "
    'target_modules to the language model with a regex, e.g. target_modules=r".*\\.language_model\\..*\\.(q_proj|v_proj)".'
)

# transformers 5.24 renamed the KV cache `past_key_values` -> `cache` in model inputs and outputs; this model
# takes either name and hands the cache on under the name of the installed version
CACHE = "cache" if "cache" in BaseModelOutputWithPast.__dataclass_fields__ else "past_key_values"


@dataclass
class HiLightModelOutputWithPast(BaseModelOutputWithPast):
    r"""video_hidden_states [V, tokens, D_text]: the vision tokens of this call's videos, if any.
    query_grounding_loss: with `token_mining_targets`, the QueryGroundingLoss of token mining's queries."""

    video_hidden_states: torch.Tensor | None = None
    query_grounding_loss: torch.Tensor | None = None


@dataclass
class HiLightVideoOutput(BaseModelOutputWithPooling):
    r"""pooler_output [V, K*q, D_text]: the vision tokens; last_hidden_state [V, 4 + T*L, D_vip]: the
    CLIP-ViP tokens they were mined from; keyframe_embeds [V, K, D_long]: Long-CLIP's keyframe embeddings."""

    keyframe_embeds: torch.Tensor | None = None


@dataclass
class HiLightCausalLMOutputWithPast(CausalLMOutputWithPast):
    video_hidden_states: torch.Tensor | None = None
    query_grounding_loss: torch.Tensor | None = None


class HiLightPreTrainedModel(PreTrainedModel):
    config: HiLightConfig
    base_model_prefix = "model"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["past_key_values", "cache"]
    _no_split_modules = ["CLIPViPEncoderLayer", "CLIPEncoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False  # CLIP-ViP's per-frame attention is written for eager and SDPA
    _supports_flex_attn = False
    _supports_attention_backend = True

    @staticmethod
    def _finalize_model_loading(model, load_config, loading_info):
        # transformers 5's from_pretrained replaces every loaded weight with a new nn.Parameter that
        # requires grad, which undoes the freezing of __init__: re-apply the config's freezing once the
        # weights are in (this runs for from_pretrained on every class, Auto and remote code included)
        loading_info = PreTrainedModel._finalize_model_loading(model, load_config, loading_info)
        model.apply_freezing()
        return loading_info

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        # The reference initialises token mining with Xavier-uniform weights and zero biases. This is done
        # per Linear: transformers skips modules without parameters of their own (the variants' containers).
        mining = getattr(getattr(self, self.base_model_prefix, self), "token_mining", None)
        if isinstance(module, nn.Linear) and mining is not None and any(module is m for m in mining.modules()):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, ImprovedTokenMining):
            init.normal_(module.slots, std=0.02)


class LongCLIPVisionModel(CLIPVisionModelWithProjection):
    """Long-CLIP's image tower: transformers' `CLIPVisionModelWithProjection` (same weights, same names),
    with a shortcut for HiLight, which keeps only `image_embeds = visual_projection(post_layernorm(CLS))`.

    `embeds_only=True`: only the CLS token of the last layer reaches that output, so the last layer
    runs its queries, output projection and MLP for CLS alone (the keys and values still come from
    every token). Same numbers, about 7% less of the tower's work; `last_hidden_state` is then None.
    """

    cls_only = True  # False: embeds_only runs the last layer in full (the "before" of the benchmark)

    def forward(self, pixel_values: torch.Tensor | None = None, embeds_only: bool = False, **kwargs):
        layers = self.vision_model.encoder.layers
        if not embeds_only or not self.cls_only or len(layers) == 0 or kwargs:
            return super().forward(pixel_values=pixel_values, **kwargs)
        tower = self.vision_model
        hidden = tower.pre_layrnorm(tower.embeddings(pixel_values))
        for layer in layers[:-1]:
            hidden = layer(hidden, None)
        last = layers[-1]
        attn, x = last.self_attn, last.layer_norm1(hidden)

        def heads(y):  # [N, S, D] -> [N, H, S, d]
            return y.view(*y.shape[:2], -1, attn.head_dim).transpose(1, 2)

        interface = ALL_ATTENTION_FUNCTIONS.get_interface(self.config._attn_implementation, clip_eager_attention)
        out, _ = interface(attn, heads(attn.q_proj(x[:, :1])), heads(attn.k_proj(x)), heads(attn.v_proj(x)), None,
                           scaling=attn.scale, dropout=attn.dropout if attn.training else 0.0)  # fmt: skip
        cls = hidden[:, 0] + attn.out_proj(out.reshape(out.shape[0], -1))
        cls = cls + last.mlp(last.layer_norm2(cls))
        return CLIPVisionModelOutput(image_embeds=self.visual_projection(tower.post_layernorm(cls)))


class HiLightModel(HiLightPreTrainedModel):
    """Both vision towers, token mining and the language model (without its output head)."""

    def __init__(self, config: HiLightConfig):
        super().__init__(config)
        self.clip_vip = CLIPViPVisionModel._from_config(config.clip_vip_config)
        self.long_clip = LongCLIPVisionModel._from_config(config.long_clip_config)
        self.token_mining = build_token_mining(config)
        self.language_model = AutoModel.from_config(config.text_config)
        self.query_grounding_loss = QueryGroundingLoss()
        self.post_init()
        self.apply_freezing()
        self._warned_adapters_in_towers = False

    def frozen_parts(self) -> dict[str, nn.Module]:
        """The parts each `freeze_*` flag of the config governs."""
        return {
            "freeze_clip_vip": self.clip_vip,
            "freeze_long_clip": self.long_clip,
            "freeze_token_mining": self.token_mining,
            "freeze_language_model": self.language_model,
        }

    def apply_freezing(self) -> None:
        """Set `requires_grad` from the config's `freeze_*` flags, so optimisers and PEFT skip frozen parts.

        Runs after `__init__` and after `from_pretrained` loads the weights; call it again after changing
        a flag. Parameters that cannot require grad (integer, quantised) are left alone.
        """
        for flag, part in self.frozen_parts().items():
            trainable = not getattr(self.config, flag)
            for parameter in part.parameters():
                parameter.requires_grad_(trainable and (parameter.is_floating_point() or parameter.is_complex()))

    def warn_about_adapters_in_frozen_towers(self) -> None:
        """Say once, with the fix, if PEFT put trainable adapters (LoRA, ...) inside a vision tower the config
        freezes: target names such as `q_proj` also name the towers' attention layers."""
        if self._warned_adapters_in_towers:
            return
        found = []
        for tower in ("clip_vip", "long_clip"):
            if getattr(self.config, f"freeze_{tower}"):
                found += [
                    f"{tower}.{name}" for name, module in getattr(self, tower).named_modules()
                    if getattr(module, "adapter_layer_names", None) and any(p.requires_grad for p in module.parameters())
                ]  # fmt: skip
        if found:
            self._warned_adapters_in_towers = True
            towers = sorted({name.split(".")[0] for name in found})
            logger.warning(
                f"PEFT adapters are training inside the vision tower(s) {', '.join(f'`{t}`' for t in towers)}, which "
                f"the config freezes ({', '.join(f'freeze_{t}=True' for t in towers)}): {len(found)} adapted layers, "
                f"e.g. `{found[0]}`. {LORA_FIX}"
            )

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_video_features(
        self, pixel_values_videos: torch.Tensor, pixel_values_keyframes: torch.Tensor | None = None, **kwargs
    ) -> HiLightVideoOutput | None:
        """Vision tokens for V videos: `pooler_output` [V, K * tokens_per_frame, D_text] (what the LLM
        gets); `last_hidden_state` holds the CLIP-ViP tokens [V, 4 + T*L, D_vip] they were mined from,
        `keyframe_embeds` Long-CLIP's [V, K, D_long].

        CLIP-ViP+ sees `pixel_values_videos` [V, T, 3, H, W]; Long-CLIP sees `pixel_values_keyframes`
        [V, K, 3, H, W], or the same frames when it is None (the reference). None without videos
        (`generate(pixel_values_videos=None)` on a text-only prompt).
        """
        if pixel_values_videos is None:
            if pixel_values_keyframes is not None:
                raise ValueError("pixel_values_keyframes was given without pixel_values_videos.")
            return None
        self.warn_about_adapters_in_frozen_towers()
        keyframes = pixel_values_videos if pixel_values_keyframes is None else pixel_values_keyframes
        if keyframes.shape[0] != pixel_values_videos.shape[0]:
            raise ValueError(
                f"pixel_values_keyframes has {keyframes.shape[0]} videos but pixel_values_videos has "
                f"{pixel_values_videos.shape[0]}."
            )
        clip_tokens = self.clip_vip(pixel_values_videos).last_hidden_state
        videos, frames = keyframes.shape[:2]
        keyframe_embeds = self.long_clip(pixel_values=keyframes.flatten(0, 1), embeds_only=True).image_embeds
        keyframe_embeds = keyframe_embeds.view(videos, frames, -1)
        return HiLightVideoOutput(
            last_hidden_state=clip_tokens, pooler_output=self.token_mining(clip_tokens, keyframe_embeds),
            keyframe_embeds=keyframe_embeds,
        )

    def vision_token_scale(self) -> torch.Tensor | float:
        """The factor the LLM's embedding layer applies to text tokens (Gemma: sqrt(hidden); 1 for most LLMs).

        The reference ran Gemma on transformers 4.38, whose GemmaModel multiplied all `inputs_embeds`,
        vision tokens included, by sqrt(hidden). Transformers 5 moved that factor into the embedding
        layer, so it is applied here to the vision tokens too: the released token-mining weights then
        see the LLM they were trained with, and vision tokens stay on the text tokens' scale.
        """
        return getattr(self.get_input_embeddings(), "embed_scale", 1.0)

    def video_token_mask(
        self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor, video_features: torch.Tensor
    ) -> torch.Tensor:
        """Where the vision tokens go ([B, S, 1]); the counts must match exactly. `inputs_embeds` is only
        read without `input_ids`."""
        if input_ids is not None:
            mask = input_ids == self.config.video_token_id
        else:  # placeholders are recognised by their embedding, as llava does
            video_id = torch.tensor(self.config.video_token_id, device=inputs_embeds.device)
            placeholder = self.get_input_embeddings()(video_id)
            mask = (inputs_embeds == placeholder).all(-1)
        placeholders, features = int(mask.sum()), video_features.numel() // video_features.shape[-1]
        if placeholders != features:
            videos, per_video = video_features.shape[0], video_features.shape[1]
            raise ValueError(
                f"The prompt has {placeholders} video placeholder tokens (id {self.config.video_token_id}) but "
                f"{videos} video(s) give {features} vision tokens ({per_video} each). Most likely the prompt "
                f"was truncated through a video span (raise max_length), or the number of <video> placeholders does "
                f"not match the number of videos."
            )
        return mask.unsqueeze(-1)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        pixel_values_keyframes: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.Tensor | None = None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | None = None,
        token_mining_targets: torch.LongTensor | None = None,
        video_metadata=None,
        **kwargs,
    ) -> HiLightModelOutputWithPast:
        r"""mm_encoder_outputs: `{"video": get_video_features(...)}` computed beforehand (generate does this
        once per call); then no pixel values are passed. `cache` is also accepted as `past_key_values`.
        token_mining_targets [V, K, q] (optional): where each token-mining query should look (an index into
        [prefix, frame patches], -100 for none); gives `query_grounding_loss` (grounding_loss.py).
        video_metadata: what the processor says about the decoded videos; accepted so that the processor's
        output goes straight into `forward`/`generate`, and not used."""
        cache = kwargs.pop("past_key_values", None) if cache is None else cache
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        if pixel_values_keyframes is not None and pixel_values_videos is None:
            raise ValueError("pixel_values_keyframes was given without pixel_values_videos.")
        video_output = (mm_encoder_outputs or {}).get("video")
        if video_output is not None and pixel_values_videos is not None:
            raise ValueError("Pass either pixel_values_videos or mm_encoder_outputs['video'], not both.")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)

        if video_output is None and pixel_values_videos is not None:
            video_output = self.get_video_features(pixel_values_videos, pixel_values_keyframes)
        video_features = query_loss = None
        if token_mining_targets is not None:
            if video_output is None or getattr(video_output, "keyframe_embeds", None) is None:
                raise ValueError("token_mining_targets need pixel_values_videos in the same call.")
            weights = self.token_mining.attention_weights(video_output.last_hidden_state, video_output.keyframe_embeds)
            query_loss = self.query_grounding_loss(weights, token_mining_targets.to(weights.device))
        if video_output is not None:
            video_features = video_output.pooler_output.to(inputs_embeds.device, inputs_embeds.dtype)
            mask = self.video_token_mask(input_ids, inputs_embeds, video_features).to(inputs_embeds.device)
            inputs_embeds = inputs_embeds.masked_scatter(mask, video_features * self.vision_token_scale())
        elif (
            input_ids is not None
            and (cache is None or cache.get_seq_length() == 0)  # prefill: decode steps are text
            and (input_ids == self.config.video_token_id).any()
        ):
            raise ValueError(
                f"The prompt has video placeholder tokens (id {self.config.video_token_id}) but no pixel_values_videos."
            )

        outputs = self.language_model(
            attention_mask=attention_mask, position_ids=position_ids, inputs_embeds=inputs_embeds, **{CACHE: cache}, **kwargs
        )
        return HiLightModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            **{CACHE: getattr(outputs, CACHE)},
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            video_hidden_states=video_features,
            query_grounding_loss=query_loss,
        )


class HiLightForConditionalGeneration(HiLightPreTrainedModel, GenerationMixin):
    """HiLight with its LM head: training with `labels`, and `generate()`."""

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: HiLightConfig):
        super().__init__(config)
        self.model = HiLightModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        self.apply_freezing()

    def apply_freezing(self) -> None:
        """The base model's freezing; `freeze_language_model` also covers the output head (tied or not)."""
        self.model.apply_freezing()
        self.lm_head.requires_grad_(not self.config.freeze_language_model)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.lm_head = value

    def get_video_features(
        self, pixel_values_videos, pixel_values_keyframes=None, **kwargs
    ) -> BaseModelOutputWithPooling | None:
        return self.model.get_video_features(pixel_values_videos, pixel_values_keyframes, **kwargs)

    def _expand_multimodal_outputs(self, input_ids, mm_encoder_output, expand_size=1, inputs_embeds=None):
        # generate() regroups the videos per prompt for beams / num_return_sequences by counting placeholders;
        # check the counts first, so that a truncated prompt gets our error instead of a failed torch.stack
        video = mm_encoder_output.get("video")
        if video is not None:
            ids = input_ids if input_ids is not None and input_ids.numel() else None
            self.model.video_token_mask(ids, inputs_embeds, video.pooler_output)
        return super()._expand_multimodal_outputs(input_ids, mm_encoder_output, expand_size, inputs_embeds)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        pixel_values_keyframes: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | None = None,
        token_mining_targets: torch.LongTensor | None = None,
        video_metadata=None,
        **kwargs,
    ) -> HiLightCausalLMOutputWithPast:
        r"""labels [B, S]: next-token targets, -100 where no loss is taken (prompt, video, padding).
        token_mining_targets: see `HiLightModel.forward`; the loss then adds
        `config.query_grounding_loss_weight * query_grounding_loss`."""
        outputs = self.model(
            input_ids=input_ids,
            pixel_values_videos=pixel_values_videos,
            pixel_values_keyframes=pixel_values_keyframes,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            mm_encoder_outputs=mm_encoder_outputs,
            token_mining_targets=token_mining_targets,
            **kwargs,
        )
        hidden = outputs.last_hidden_state
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden[:, keep, :])
        softcap = getattr(self.config.text_config, "final_logit_softcapping", None)
        if softcap is not None:
            logits = torch.tanh(logits / softcap) * softcap
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs)
        if outputs.query_grounding_loss is not None:
            extra = self.config.query_grounding_loss_weight * outputs.query_grounding_loss
            loss = extra if loss is None else loss + extra
        return HiLightCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            **{CACHE: getattr(outputs, CACHE)},
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            video_hidden_states=outputs.video_hidden_states,
            query_grounding_loss=outputs.query_grounding_loss,
        )


__all__ = ["HiLightForConditionalGeneration", "HiLightModel", "HiLightPreTrainedModel", "LongCLIPVisionModel"]
