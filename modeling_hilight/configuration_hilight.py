"""Configuration of HiLight: two vision towers, token mining and a decoder LLM.

Defaults reproduce the published HiLight-2B shapes: CLIP-ViP ViT-B/16 (768 wide, 4 + 12 x 196
tokens), Long-CLIP-B (ViT-B/16, 512-d projection), reference token mining (12 frames x 32
queries = 384 vision tokens of width 2048) and Gemma-2B.
"""

from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import CLIPVisionConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.models.auto import AutoConfig

from .configuration_clip_vip_plus import CLIPViPVisionConfig

TOKEN_MINING_VARIANTS = ("reference", "structure1", "structure2", "improved")

GEMMA_2B = dict(
    vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18, num_attention_heads=8,
    num_key_value_heads=1, head_dim=256, max_position_embeddings=8192, tie_word_embeddings=True,
    pad_token_id=0, eos_token_id=1, bos_token_id=2,
)  # fmt: skip
# Where each Auto class finds HiLight through remote code (`trust_remote_code=True`) in a saved folder, for
# every Auto class the package registers in-process (__init__.py). save_pretrained adds the entry of the
# class being saved; this map supplies the others (AutoModel on a HiLightForConditionalGeneration folder).
AUTO_MAP = {
    "AutoConfig": "configuration_hilight.HiLightConfig",
    "AutoModel": "modeling_hilight.HiLightModel",
    "AutoModelForImageTextToText": "modeling_hilight.HiLightForConditionalGeneration",
    "AutoModelForMultimodalLM": "modeling_hilight.HiLightForConditionalGeneration",  # pipeline("any-to-any")
}
LONG_CLIP_B = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                   image_size=224, patch_size=16, projection_dim=512)  # fmt: skip


@strict
class HiLightConfig(PreTrainedConfig):
    r"""
    clip_vip_config (`CLIPViPVisionConfig`): the CLIP-ViP+ video tower (whole clip).
    long_clip_config (`CLIPVisionConfig`): the Long-CLIP keyframe tower; `projection_dim` is the width
        of its per-frame embedding (512 for Long-CLIP-B).
    text_config (`PreTrainedConfig`): any decoder LLM config (`model_type` picks it); Gemma-2B by default.
    token_mining_variant (`str`): `"reference"` (the released module), `"structure1"`/`"structure2"`
        (the paper's Figure 3 ablation: no per-tower projectors, one query per keyframe), or
        `"improved"` (multi-head cross-attention with residuals and no final ReLU).
    queries_per_frame (`int`, 32): vision tokens per keyframe for `reference` and `improved`.
    token_mining_hidden_size (`int`, 512): attention width; for `reference` it must equal the
        Long-CLIP projection width (the released module reinterprets that axis).
    token_mining_num_heads (`int`, 8): heads of the `improved` variant.
    token_mining_attention (`str`, "clip"): what the `improved` variant's queries of a keyframe see:
        `"clip"` (every CLIP-ViP token) or `"frame"` (the prefix tokens and that keyframe's frame).
    query_grounding_loss_weight (`float`, 1.0): weight of the query grounding loss (grounding_loss.py;
        not in the paper) when `forward` gets `token_mining_targets`.
    num_frames (`int`, 12): frames per video for CLIP-ViP (and Long-CLIP unless the processor sends
        separate keyframes).
    video_token_id (`int`): the placeholder token the processor repeats once per vision token.
    freeze_clip_vip, freeze_long_clip, freeze_token_mining, freeze_language_model (`bool`):
        parts whose parameters get `requires_grad=False` when the model is built (the reference
        freezes both towers; training recipes set the others per stage).
    """

    model_type = "hilight"
    sub_configs_defaults = {
        "clip_vip_config": SubConfigSpec(config_class=CLIPViPVisionConfig),
        "long_clip_config": SubConfigSpec(config_class=CLIPVisionConfig, init_kwargs=LONG_CLIP_B),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="gemma", init_kwargs=GEMMA_2B),
    }

    clip_vip_config: dict | CLIPViPVisionConfig | None = None
    long_clip_config: dict | CLIPVisionConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    token_mining_variant: Literal["reference", "structure1", "structure2", "improved"] = "reference"
    queries_per_frame: int = 32
    token_mining_hidden_size: int = 512
    token_mining_num_heads: int = 8
    token_mining_attention: Literal["clip", "frame"] = "clip"
    query_grounding_loss_weight: float = 1.0
    num_frames: int = 12
    video_token_id: int = 255999
    freeze_clip_vip: bool = True
    freeze_long_clip: bool = True
    freeze_token_mining: bool = False
    freeze_language_model: bool = False
    tie_word_embeddings: bool | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.auto_map = {**AUTO_MAP, **(getattr(self, "auto_map", None) or {})}
        if self.tie_word_embeddings is None:  # follow the LLM: Gemma ties its output head to the embeddings
            self.tie_word_embeddings = bool(getattr(self.text_config, "tie_word_embeddings", False))

    @property
    def vision_tokens_per_frame(self) -> int:
        return 1 if self.token_mining_variant in ("structure1", "structure2") else self.queries_per_frame

    @property
    def num_vision_tokens(self) -> int:
        """Vision tokens per video when the keyframes are the `num_frames` frames."""
        return self.num_frames * self.vision_tokens_per_frame

    def validate_architecture(self):
        if self.token_mining_variant == "reference" and self.long_clip_config.projection_dim != self.token_mining_hidden_size:
            raise ValueError(
                f"token_mining_variant='reference' needs token_mining_hidden_size == long_clip_config.projection_dim, "
                f"got {self.token_mining_hidden_size} and {self.long_clip_config.projection_dim}."
            )
        if self.token_mining_variant == "improved" and self.token_mining_hidden_size % self.token_mining_num_heads:
            raise ValueError(
                f"token_mining_hidden_size={self.token_mining_hidden_size} is not divisible by "
                f"token_mining_num_heads={self.token_mining_num_heads}."
            )

    @classmethod
    def hilight_2b(cls, **kwargs) -> "HiLightConfig":
        """The published HiLight-2B shapes."""
        return cls(**kwargs)

    @classmethod
    def tiny(cls, text_model_type: str = "gemma", **kwargs) -> "HiLightConfig":
        """A model of about a megabyte for tests and the bundled demo: 32 px frames, patch 16."""
        vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                      image_size=32, patch_size=16)  # fmt: skip
        text = dict(model_type=text_model_type, vocab_size=128, hidden_size=64, intermediate_size=128,
                    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                    max_position_embeddings=512, pad_token_id=0, eos_token_id=1, bos_token_id=2,
                    tie_word_embeddings=text_model_type == "gemma")  # fmt: skip
        text.update(kwargs.pop("text_config", {}))
        defaults = dict(
            clip_vip_config={**vision, **kwargs.pop("clip_vip_config", {})},
            long_clip_config={**vision, "projection_dim": 16, **kwargs.pop("long_clip_config", {})},
            text_config=text, token_mining_hidden_size=16, token_mining_num_heads=2, queries_per_frame=4,
            video_token_id=127,
        )
        defaults.update(kwargs)
        return cls(**defaults)


__all__ = ["AUTO_MAP", "HiLightConfig", "TOKEN_MINING_VARIANTS"]
