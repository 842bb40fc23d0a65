"""Converters into `CLIPViPPlusModel`.

1. The published CLIP-ViP checkpoints (`pretrain_clipvip_base_16.pt`, `pretrain_clipvip_base_32.pt`):
   pickled state dicts whose keys are transformers `CLIPModel` names prefixed `clipmodel.` (and
   sometimes `module.`), plus `vision_model.embeddings.added_cls` [3, 768] and
   `vision_model.embeddings.temporal_embedding` [1, 12, 768].
2. A plain transformers `CLIPModel` folder: the way to train a CLIP-ViP+ from an image CLIP; the
   proxy tokens and the temporal embedding are newly initialised.

Both are strict: every checkpoint key is used, and the only model keys allowed to be absent are the
ones a checkpoint of that kind cannot have (listed in the error otherwise).

Given the CLIP tokenizer (`tokenizer=`, a folder or a tokenizer; a CLIP folder's own is used when it has
one), the converted config takes pad/bos/eos and the language mask's stop-word ids from it, so the
default `language_mask_policy="stopwords"` works at once. Without one, fill them later with
`model.use_tokenizer(tokenizer)` (the encoder stage does this with the recipe's tokenizer).
"""

import os

import torch

from .configuration_clip_vip_plus import CLIPViPPlusConfig
from .conversion_utils import CheckpointError, load_state_dict_strictly, read_checkpoint, strip_prefixes
from .language_mask import use_tokenizer
from .modeling_clip_vip_plus import CLIPViPPlusModel

PUBLISHED_PREFIXES = ("module.", "clipmodel.")
# Older transformers saved these index buffers; they are derivable, so they are checked and dropped.
DERIVABLE_BUFFERS = ("text_model.embeddings.position_ids", "vision_model.embeddings.position_ids")
HEAD_WIDTH = 64  # CLIP's attention head width; head counts are not stored in a state dict


def _local_head_keys(model: CLIPViPPlusModel) -> tuple[str, ...]:
    return tuple(k for k in model.state_dict() if k.startswith(("local_text_projection.", "local_visual_projection.")))


def _drop_derivable_buffers(state_dict: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    out = dict(state_dict)
    for key in DERIVABLE_BUFFERS:
        if key in out:
            value = out.pop(key)
            if not torch.equal(value.flatten().long(), torch.arange(value.numel())):
                raise CheckpointError(f"{source}: {key} is not 0..{value.numel() - 1}; this is not a CLIP checkpoint.")
    return out


def _num_layers(state_dict: dict[str, torch.Tensor], prefix: str) -> int:
    indices = {int(k[len(prefix) :].split(".")[0]) for k in state_dict if k.startswith(prefix)}
    return max(indices) + 1 if indices else 0


def _load_tokenizer(tokenizer):
    """A tokenizer object from a folder path (or the object itself); None stays None."""
    if tokenizer is None or not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
    from transformers import AutoTokenizer

    if not os.path.isdir(tokenizer):
        raise CheckpointError(f"{os.fspath(tokenizer)}: no such tokenizer folder.")
    return AutoTokenizer.from_pretrained(tokenizer)


def _build(config: CLIPViPPlusConfig, tokenizer) -> CLIPViPPlusModel:
    tokenizer = _load_tokenizer(tokenizer)
    if tokenizer is not None:
        use_tokenizer(config, tokenizer)  # before the model is built: the text tower pools at eos
    return CLIPViPPlusModel(config)


def config_from_clip_vip_state_dict(state_dict: dict[str, torch.Tensor], **overrides) -> CLIPViPPlusConfig:
    """Read the architecture off the tensor shapes (heads assume CLIP's width of 64 per head)."""
    try:
        patch = state_dict["vision_model.embeddings.patch_embedding.weight"]
        positions = state_dict["vision_model.embeddings.position_embedding.weight"]
        tokens = state_dict["text_model.embeddings.token_embedding.weight"]
        text_positions = state_dict["text_model.embeddings.position_embedding.weight"]
        projection = state_dict["visual_projection.weight"]
        vision_fc1 = state_dict["vision_model.encoder.layers.0.mlp.fc1.weight"]
        text_fc1 = state_dict["text_model.encoder.layers.0.mlp.fc1.weight"]
    except KeyError as error:
        raise CheckpointError(f"the checkpoint has no {error.args[0]!r}: it is not a CLIP/CLIP-ViP state dict.") from None
    vision_width, patch_size = patch.shape[0], patch.shape[-1]
    grid = round((positions.shape[0] - 1) ** 0.5)
    text_width = tokens.shape[1]
    added_cls = state_dict.get("vision_model.embeddings.added_cls")
    temporal = state_dict.get("vision_model.embeddings.temporal_embedding")
    vision = dict(
        hidden_size=vision_width,
        intermediate_size=vision_fc1.shape[0],
        num_hidden_layers=_num_layers(state_dict, "vision_model.encoder.layers."),
        num_attention_heads=max(1, vision_width // HEAD_WIDTH),
        image_size=grid * patch_size,
        patch_size=patch_size,
        add_cls_num=added_cls.shape[0] if added_cls is not None else 3,
        temporal_size=temporal.shape[1] if temporal is not None else 12,
    )
    text = dict(
        vocab_size=tokens.shape[0],
        hidden_size=text_width,
        intermediate_size=text_fc1.shape[0],
        num_hidden_layers=_num_layers(state_dict, "text_model.encoder.layers."),
        num_attention_heads=max(1, text_width // HEAD_WIDTH),
        max_position_embeddings=text_positions.shape[0],
        # a state dict holds no special ids; CLIP's tokenizer puts start and end of text last and pads with
        # end of text (CLIPTextConfig's default pad id 1 is the `"` token)
        bos_token_id=tokens.shape[0] - 2,
        eos_token_id=tokens.shape[0] - 1,
        pad_token_id=tokens.shape[0] - 1,
    )
    vision.update(overrides.pop("vision_config", {}))
    text.update(overrides.pop("text_config", {}))
    return CLIPViPPlusConfig(text_config=text, vision_config=vision, projection_dim=projection.shape[0], **overrides)


def convert_clip_vip_checkpoint(path: str | os.PathLike, tokenizer=None, **config_overrides) -> CLIPViPPlusModel:
    """Load a published CLIP-ViP checkpoint into a `CLIPViPPlusModel`.

    Every checkpoint key is used; only the CLIP-ViP+ local-loss heads (absent from CLIP-ViP by
    design) are newly initialised. `tokenizer` (CLIP's; a folder or object) fills the language mask's
    ids. `config_overrides` go to `CLIPViPPlusConfig` (e.g. the local-loss settings, or
    `vision_config={"num_attention_heads": ...}` for a non-standard head width).
    """
    source = os.fspath(path)
    state_dict = _drop_derivable_buffers(strip_prefixes(read_checkpoint(path), PUBLISHED_PREFIXES), source)
    config = config_from_clip_vip_state_dict(state_dict, **config_overrides)
    model = _build(config, tokenizer)
    load_state_dict_strictly(model, state_dict, source, newly_initialised=_local_head_keys(model))
    return model


def clip_vip_plus_from_clip(clip_model_path: str | os.PathLike, tokenizer=None, **config_overrides) -> CLIPViPPlusModel:
    """Start a CLIP-ViP+ from a transformers `CLIPModel` folder (or model id in the local cache).

    CLIP's weights are copied key for key; the video proxy tokens (`added_cls`), the temporal
    embedding and the local-loss heads are new. `tokenizer` fills the language mask's ids (default:
    the folder's own tokenizer, if it has one). `config_overrides` go to `CLIPViPPlusConfig`;
    `vision_config={...}` entries (e.g. `temporal_size`, `add_cls_num`) extend CLIP's vision config.
    """
    from transformers import CLIPModel  # only this entry point needs it

    clip = CLIPModel.from_pretrained(clip_model_path)
    vision = clip.config.vision_config.to_dict()
    vision.update(config_overrides.pop("vision_config", {}))
    for key in ("model_type", "transformers_version", "architectures"):
        vision.pop(key, None)
    text = clip.config.text_config.to_dict()
    text.update(config_overrides.pop("text_config", {}))
    config_overrides.setdefault("projection_dim", clip.config.projection_dim)
    config = CLIPViPPlusConfig(text_config=text, vision_config=vision, **config_overrides)
    if tokenizer is None and os.path.isfile(os.path.join(clip_model_path, "tokenizer_config.json")):
        tokenizer = clip_model_path
    model = _build(config, tokenizer)
    new = ("vision_model.embeddings.added_cls", "vision_model.embeddings.temporal_embedding") + _local_head_keys(model)
    load_state_dict_strictly(model, clip.state_dict(), os.fspath(clip_model_path), newly_initialised=new)
    return model


__all__ = ["clip_vip_plus_from_clip", "config_from_clip_vip_state_dict", "convert_clip_vip_checkpoint"]
