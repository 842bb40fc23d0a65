"""Configuration of CLIP-ViP+: CLIP-ViP (a CLIP ViT with video proxy tokens) plus a SPARC local loss.

Defaults follow the paper's chosen setting ("CLIP-ViP+", placement 2): ViT-B/16 at 224 px,
12 frames, 3 video proxy tokens, local loss after the encoder and before the projector, with a
language mask that removes padding, special tokens and stop words from the local loss. The paper
gives no loss weights, temperature bounds or patch scope; those defaults are ours (see the fields).
"""

from typing import Literal

from huggingface_hub.dataclasses import strict
from transformers import CLIPTextConfig, CLIPVisionConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

# Words with "abstract meaning" that the language mask removes from the local loss: they stay in
# the text (and in the global embedding) but are not grounded to patches. The paper names the idea
# and "start of the game" as an example, not a list: this one is ours. No number word ("one" names
# a ball in billiards).
DEFAULT_STOPWORDS = (
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto",
    "and", "or", "but", "then", "after", "before", "while", "as", "is", "are", "was", "were", "be",
    "been", "it", "its", "this", "that", "these", "those", "there", "here", "which", "who", "what",
    "once", "again", "game", "start", "shot", "video", "clip", "frame", "scene", ".", ",",
)  # fmt: skip

LOCAL_LOSS_PLACEMENTS = ("none", "pre_projection", "embeddings", "all_layers")
LANGUAGE_MASK_POLICIES = ("special_tokens", "stopwords", "token_ids")
PATCH_SCOPES = ("clip", "frame")


@strict
class CLIPViPVisionConfig(CLIPVisionConfig):
    r"""
    A CLIP vision config plus CLIP-ViP's video settings.

    temporal_size (`int`, defaults to 12):
        Number of rows of the learned temporal embedding; other frame counts interpolate it linearly.
    add_cls_num (`int`, defaults to 3):
        Number of learned video proxy tokens placed after CLS.
    use_temporal_embedding (`bool`, defaults to `True`):
        Add the temporal embedding to patch tokens; without it the model has no `temporal_embedding`.
    max_frames (`int`, defaults to 64):
        Largest frame count accepted by the model.
    """

    model_type = "clip_vip_vision_model"
    base_config_key = "vision_config"

    patch_size: int | list[int] | tuple[int, int] | None = 16
    temporal_size: int = 12
    add_cls_num: int = 3
    use_temporal_embedding: bool = True
    max_frames: int = 64

    @property
    def num_patches_per_frame(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def num_prefix_tokens(self) -> int:
        """CLS plus the video proxy tokens: the tokens that attend to the whole clip."""
        return 1 + self.add_cls_num


@strict
class CLIPViPPlusConfig(PreTrainedConfig):
    r"""
    text_config (`dict` or `CLIPTextConfig`):
        The CLIP text encoder.
    vision_config (`dict` or `CLIPViPVisionConfig`):
        The CLIP-ViP video encoder.
    projection_dim (`int`, defaults to 512):
        Width of the shared video-text embedding space.
    logit_scale_init_value (`float`, defaults to 4.6052 = ln 100):
        Initial log inverse temperature. As in CLIP-ViP, the parameter is clamped to [0, ln 200] after
        each optimiser step (`CLIPViPPlusModel.clamp_logit_scale_`; the encoder stage does it), not in
        the forward pass, so that it keeps its gradient.
    local_loss_placement (`str`, defaults to `"pre_projection"`):
        Which hidden states feed the SPARC local loss: `"none"` (global loss only),
        `"pre_projection"` (last encoder layer, after the final layer norm: the paper's choice),
        `"embeddings"` (embedding-layer outputs), `"all_layers"` (every encoder layer, weighted
        0.1 -> 1 from the first to the last layer and summed, so the last layer keeps its full weight).
    local_projection (`str`, defaults to `"separate"`):
        `"separate"`: own linear heads map local hidden states to `projection_dim`;
        `"shared"`: reuse the global `text_projection`/`visual_projection`.
    language_mask_policy (`str`, defaults to `"stopwords"`):
        Tokens left out of the local loss: `"special_tokens"` (padding and special tokens only),
        `"stopwords"` (also the ids in `language_mask_token_ids`, filled from the stop words by
        `CLIPViPPlusModel.use_tokenizer` / `language_mask.use_tokenizer`), `"token_ids"` (padding,
        special tokens and the caller's ids). Padding and special tokens are the text config's pad,
        bos and eos ids, which `use_tokenizer` takes from the tokenizer.
    language_mask_token_ids (`list[int]`):
        Extra token ids masked out of the local loss under the `"stopwords"`/`"token_ids"` policies.
    global_loss_weight, local_loss_weight (`float`, 0.5 and 1.0):
        `loss = global_loss_weight * loss_global + local_loss_weight * loss_local`. HiLight gives no
        values; SPARC's ranges (0.5 to 10 for the local weight) are the source of these defaults.
    sparsity_threshold (`float`, *optional*):
        Normalised similarities below this are zeroed; `None` means 1/P for P patches.
    patch_scope (`str`, defaults to `"clip"`):
        `"clip"`: a text token is grounded in all T*L patches of the clip (P = T*L, so the
        sparsification threshold is 1/2352 at 12 frames); `"frame"`: in each frame's L patches
        separately (threshold 1/196), and the loss is averaged over frames. The paper does not say;
        the default is provisional until the grounding measurements decide it.
    grounding_loss_weight (`float`, defaults to 0): weight of the supervised grounding loss
        (grounding_loss.py; not in the paper), used when `forward` gets `grounding_targets`.
    grounding_logit_scale (`float`, defaults to 20): its fixed inverse temperature.
    """

    model_type = "clip_vip_plus"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=CLIPTextConfig),
        "vision_config": SubConfigSpec(config_class=CLIPViPVisionConfig),
    }

    text_config: dict | CLIPTextConfig | None = None
    vision_config: dict | CLIPViPVisionConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = 4.6052
    local_loss_placement: Literal["none", "pre_projection", "embeddings", "all_layers"] = "pre_projection"
    local_projection: Literal["separate", "shared"] = "separate"
    language_mask_policy: Literal["special_tokens", "stopwords", "token_ids"] = "stopwords"
    language_mask_token_ids: list[int] | None = None
    global_loss_weight: float = 0.5
    local_loss_weight: float = 1.0
    sparsity_threshold: float | None = None
    patch_scope: Literal["clip", "frame"] = "clip"
    grounding_loss_weight: float = 0.0
    grounding_logit_scale: float = 20.0
    initializer_factor: float = 1.0

    def validate_architecture(self):
        """Part of `@strict` validation: reject settings the model cannot honour, with the reason."""
        if self.local_loss_placement == "all_layers":
            text_layers = self.text_config.num_hidden_layers
            vision_layers = self.vision_config.num_hidden_layers
            if text_layers != vision_layers:
                raise ValueError(
                    f"local_loss_placement='all_layers' pairs text and vision layers one to one, but the text "
                    f"encoder has {text_layers} layers and the vision encoder {vision_layers}."
                )


__all__ = ["CLIPViPPlusConfig", "CLIPViPVisionConfig", "DEFAULT_STOPWORDS"]
