"""Long-CLIP checkpoints (`longclip-B.pt`, `longclip-L.pt`) -> transformers `CLIPModel`.

Long-CLIP checkpoints are OpenAI-CLIP state dicts (`visual.*`, `transformer.resblocks.N.*`, ...)
with a 248-position text context stored as two tables: a frozen `positional_embedding` and a
trainable `positional_embedding_res`; the effective table is rows 0..19 of the first and rows
20..247 of the second. HiLight uses the vision side (`long_clip_vision_tower`); the whole model is
converted so that every key is used. (The public transformers conversions drop
`positional_embedding_res`, which silently changes the text tower.)
"""

import os

import torch
from transformers import CLIPConfig, CLIPModel, CLIPVisionModelWithProjection

from .conversion_utils import CheckpointError, load_state_dict_strictly, read_checkpoint

KEEP_ROWS = 20  # Long-CLIP keeps CLIP's first 20 positions and learns the rest
METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")  # scalars some OpenAI dumps carry
HEAD_WIDTH = 64


def _blocks(state: dict, prefix: str) -> int:
    return len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)})


def _convert_blocks(state: dict, source: str, target: str, count: int) -> dict:
    out = {}
    for i in range(count):
        s, t = f"{source}{i}.", f"{target}{i}."
        q, k, v = state[s + "attn.in_proj_weight"].chunk(3)
        qb, kb, vb = state[s + "attn.in_proj_bias"].chunk(3)
        out.update({
            t + "self_attn.q_proj.weight": q, t + "self_attn.k_proj.weight": k, t + "self_attn.v_proj.weight": v,
            t + "self_attn.q_proj.bias": qb, t + "self_attn.k_proj.bias": kb, t + "self_attn.v_proj.bias": vb,
            t + "self_attn.out_proj.weight": state[s + "attn.out_proj.weight"],
            t + "self_attn.out_proj.bias": state[s + "attn.out_proj.bias"],
        })  # fmt: skip
        for old, new in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
            for leaf in ("weight", "bias"):
                out[f"{t}{new}.{leaf}"] = state[f"{s}{old}.{leaf}"]
    return out


def long_clip_state_dict_to_hf(state: dict[str, torch.Tensor], source: str = "<state dict>") -> tuple[CLIPConfig, dict]:
    """(config, transformers CLIPModel state dict). Every input key is consumed or it raises."""
    state = dict(state)
    for key in METADATA_KEYS:
        state.pop(key, None)
    try:
        conv = state["visual.conv1.weight"]
        width, patch = conv.shape[0], conv.shape[-1]
        grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        text_width = state["token_embedding.weight"].shape[1]
        positions = torch.cat([state["positional_embedding"][:KEEP_ROWS], state["positional_embedding_res"][KEEP_ROWS:]])
    except KeyError as error:
        raise CheckpointError(f"{source}: no {error.args[0]!r}; this is not a Long-CLIP (OpenAI CLIP format) state dict.") from None
    vision_layers, text_layers = _blocks(state, "visual.transformer.resblocks."), _blocks(state, "transformer.resblocks.")
    config = CLIPConfig(
        vision_config=dict(
            hidden_size=width, intermediate_size=state["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
            num_hidden_layers=vision_layers, num_attention_heads=max(1, width // HEAD_WIDTH),
            image_size=grid * patch, patch_size=patch, projection_dim=state["visual.proj"].shape[1],
        ),
        text_config=dict(
            vocab_size=state["token_embedding.weight"].shape[0], hidden_size=text_width,
            intermediate_size=state["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
            num_hidden_layers=text_layers, num_attention_heads=max(1, text_width // HEAD_WIDTH),
            max_position_embeddings=positions.shape[0], projection_dim=state["text_projection"].shape[1],
            # OpenAI's tokenizer puts start/end of text last (49406, 49407 of 49408); the text embedding is
            # read at the end-of-text token
            bos_token_id=state["token_embedding.weight"].shape[0] - 2,
            eos_token_id=state["token_embedding.weight"].shape[0] - 1,
        ),
        projection_dim=state["visual.proj"].shape[1],
    )  # fmt: skip
    hf = {
        "vision_model.embeddings.patch_embedding.weight": conv,
        "vision_model.embeddings.class_embedding": state["visual.class_embedding"],
        "vision_model.embeddings.position_embedding.weight": state["visual.positional_embedding"],
        "vision_model.pre_layrnorm.weight": state["visual.ln_pre.weight"],
        "vision_model.pre_layrnorm.bias": state["visual.ln_pre.bias"],
        "vision_model.post_layernorm.weight": state["visual.ln_post.weight"],
        "vision_model.post_layernorm.bias": state["visual.ln_post.bias"],
        "visual_projection.weight": state["visual.proj"].t().contiguous(),
        "text_model.embeddings.token_embedding.weight": state["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": positions,
        "text_model.final_layer_norm.weight": state["ln_final.weight"],
        "text_model.final_layer_norm.bias": state["ln_final.bias"],
        "text_projection.weight": state["text_projection"].t().contiguous(),
        "logit_scale": state["logit_scale"],
    }
    hf.update(_convert_blocks(state, "visual.transformer.resblocks.", "vision_model.encoder.layers.", vision_layers))
    hf.update(_convert_blocks(state, "transformer.resblocks.", "text_model.encoder.layers.", text_layers))

    consumed = {
        "visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding", "visual.ln_pre.weight",
        "visual.ln_pre.bias", "visual.ln_post.weight", "visual.ln_post.bias", "visual.proj", "token_embedding.weight",
        "positional_embedding", "positional_embedding_res", "ln_final.weight", "ln_final.bias", "text_projection",
        "logit_scale",
    }  # fmt: skip
    consumed |= {k for k in state if k.startswith(("visual.transformer.resblocks.", "transformer.resblocks."))}
    leftover = sorted(set(state) - consumed)
    if leftover:
        raise CheckpointError(f"{source}: keys this converter does not know, not converted: {', '.join(leftover)}")
    return config, hf


def convert_long_clip_checkpoint(path: str | os.PathLike) -> CLIPModel:
    """The whole Long-CLIP as a transformers `CLIPModel` with a 248-position text tower."""
    config, hf = long_clip_state_dict_to_hf(read_checkpoint(path), os.fspath(path))
    model = CLIPModel(config)
    load_state_dict_strictly(model, hf, os.fspath(path))
    return model.eval()


def long_clip_vision_tower(clip: CLIPModel) -> CLIPVisionModelWithProjection:
    """The keyframe tower HiLight uses: the vision model and its projection, weights shared by copy."""
    tower = CLIPVisionModelWithProjection(clip.config.vision_config)
    state = {k: v for k, v in clip.state_dict().items() if k.startswith(("vision_model.", "visual_projection."))}
    load_state_dict_strictly(tower, state, "Long-CLIP vision side")
    return tower.eval()


__all__ = ["convert_long_clip_checkpoint", "long_clip_state_dict_to_hf", "long_clip_vision_tower"]
