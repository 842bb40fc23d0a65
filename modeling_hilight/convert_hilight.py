"""The released HiLight weights -> `HiLightForConditionalGeneration`.

The Hub repository `ATA-space/HiLight` ships a token-mining `.bin` (keys `model.token_mining.*`,
the reference module's names) and LoRA-merged Gemma checkpoints. With the CLIP-ViP and Long-CLIP
checkpoints they make a whole HiLight-2B:

    model = assemble_hilight(clip_vip="pretrain_clipvip_base_16.pt", long_clip="longclip-B.pt",
                             token_mining="token_mining.bin", language_model="path/to/gemma-2b-merged")
    model.save_pretrained("hilight-2b")

Every step is strict (conversion_utils.load_state_dict_strictly).

Activation: the reference ran Gemma on transformers 4.38, whose Gemma used exact GELU; transformers 5
maps Gemma's `hidden_act="gelu"` to the tanh approximation. `exact_gelu=True` sets `"gelu_python"`
(exact, erf-based), which gives the released weights the activation they were trained with.
"""

import os

import torch

from .configuration_hilight import HiLightConfig
from .conversion_utils import CheckpointError, load_state_dict_strictly, read_checkpoint, strip_prefixes
from .convert_clip_vip import convert_clip_vip_checkpoint
from .convert_long_clip import convert_long_clip_checkpoint, long_clip_vision_tower
from .modeling_hilight import HiLightForConditionalGeneration
from .token_mining import ReferenceTokenMining

TOKEN_MINING_PREFIX = "model.token_mining."


def read_token_mining_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The released token-mining state dict with the `model.token_mining.` prefix removed."""
    state = read_checkpoint(path)
    foreign = sorted(k for k in state if not k.startswith(TOKEN_MINING_PREFIX))
    if foreign:
        raise CheckpointError(f"{path}: keys outside {TOKEN_MINING_PREFIX}*: {', '.join(foreign)}")
    return strip_prefixes(state, (TOKEN_MINING_PREFIX,))


def convert_token_mining_checkpoint(path: str | os.PathLike) -> ReferenceTokenMining:
    """A `ReferenceTokenMining` holding the released weights; widths are read off the tensors."""
    state = read_token_mining_checkpoint(path)
    try:
        module = ReferenceTokenMining(
            clip_vip_width=state["CLIP_VIP_projector.0.weight"].shape[1],
            long_clip_width=state["query_projector.1.weight"].shape[0],
            text_width=state["tokenizer_projector.3.weight"].shape[0],
            queries_per_frame=state["LongCLIP_projector.0.weight"].shape[0],
        )
    except KeyError as error:
        raise CheckpointError(f"{path}: no {TOKEN_MINING_PREFIX}{error.args[0]}; not a HiLight token-mining file.") from None
    load_state_dict_strictly(module, state, os.fspath(path))
    return module


def assemble_hilight(
    clip_vip: str | os.PathLike,
    long_clip: str | os.PathLike,
    token_mining: str | os.PathLike,
    language_model: str | os.PathLike,
    video_token_id: int | None = None,
    exact_gelu: bool = False,
    **config_overrides,
) -> HiLightForConditionalGeneration:
    """A whole HiLight from the four published pieces (the LLM as a transformers folder);
    `exact_gelu` gives the LLM exact GELU as in the reference (see the module docstring)."""
    from transformers import AutoModelForCausalLM

    vip = convert_clip_vip_checkpoint(clip_vip, language_mask_policy="special_tokens").vision_model
    keyframe_tower = long_clip_vision_tower(convert_long_clip_checkpoint(long_clip))
    mining = convert_token_mining_checkpoint(token_mining)
    llm = AutoModelForCausalLM.from_pretrained(language_model)

    config = HiLightConfig(
        clip_vip_config=vip.config.to_dict(),
        long_clip_config=keyframe_tower.config.to_dict(),
        text_config={**llm.config.to_dict(), **({"hidden_act": "gelu_python"} if exact_gelu else {})},
        token_mining_variant="reference",
        queries_per_frame=mining.queries_per_frame,
        token_mining_hidden_size=keyframe_tower.config.projection_dim,
        video_token_id=video_token_id if video_token_id is not None else llm.config.vocab_size - 1,
        **config_overrides,
    )
    model = HiLightForConditionalGeneration(config)
    parts = {
        "model.clip_vip.": vip.state_dict(),
        "model.long_clip.": keyframe_tower.state_dict(),
        "model.token_mining.": mining.state_dict(),
    }
    state = {prefix + k: v for prefix, sub in parts.items() for k, v in sub.items()}
    llm_state = llm.state_dict()
    for key, value in llm_state.items():  # a causal LM is `model.*` + `lm_head.weight`
        state[("model.language_model." + key[len("model."):]) if key.startswith("model.") else key] = value
    if config.tie_word_embeddings:
        state.setdefault("lm_head.weight", state["model.language_model.embed_tokens.weight"])
    load_state_dict_strictly(model, state, "the assembled HiLight pieces")
    return model.eval()


__all__ = ["assemble_hilight", "convert_token_mining_checkpoint", "read_token_mining_checkpoint"]
