"""The released HiLight weights -> `HiLightForConditionalGeneration`.

The Hub repository `ATA-space/HiLight` ships a token-mining `.bin` (keys `model.token_mining.*`,
the reference module's names) and LoRA-merged Gemma checkpoints. With the CLIP-ViP and Long-CLIP
checkpoints they make a whole HiLight-2B:

    model, processor = convert_hilight(clip_vip="pretrain_clipvip_base_16.pt", long_clip="longclip-B.pt",
                                       token_mining="token_mining.bin", language_model="path/to/gemma-2b-merged",
                                       out="hilight-2b")

Every step is strict (conversion_utils.load_state_dict_strictly). `<video>` needs an id inside the
LLM's embedding table (Gemma's has 256000 rows and no video row; adding a token would give id
256000 and nothing would resize the table), so it takes the place of one of the tokens Gemma
reserves, `<unused0>`: the converted folder's tokenizer and config agree on that id.

Activation: the reference ran Gemma on transformers 4.38, whose Gemma used exact GELU; transformers 5
maps Gemma's `hidden_act="gelu"` to the tanh approximation. `exact_gelu=True` sets `"gelu_python"`
(exact, erf-based), which gives the released weights the activation they were trained with.
"""

import json
import logging
import os
import tempfile

import torch

from .configuration_hilight import HiLightConfig
from .conversion_utils import CheckpointError, load_state_dict_strictly, read_checkpoint, strip_prefixes
from .convert_clip_vip import convert_clip_vip_checkpoint
from .convert_long_clip import convert_long_clip_checkpoint, long_clip_vision_tower
from .modeling_hilight import HiLightForConditionalGeneration
from .token_mining import ReferenceTokenMining

TOKEN_MINING_PREFIX = "model.token_mining."
SPARE_TOKEN = "<unused0>"  # Gemma reserves <unused0>..<unused98>; their embedding rows are never trained
logger = logging.getLogger(__name__)


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
    if video_token_id is None:
        tokenizer = _tokenizer_in(language_model)
        if tokenizer is not None:
            video_token_id = video_tokenizer(tokenizer).convert_tokens_to_ids("<video>")
        else:
            logger.warning("%s has no tokenizer: <video> gets the last id of the vocabulary, %d; pass "
                           "video_token_id to choose", language_model, llm.config.vocab_size - 1)  # fmt: skip

    video_token_id = video_token_id if video_token_id is not None else llm.config.vocab_size - 1
    if not 0 <= video_token_id < llm.config.vocab_size:
        raise ValueError(f"video_token_id {video_token_id} is outside the LLM's {llm.config.vocab_size} embedding rows; "
                         f"give <video> the id of a reserved token (see video_tokenizer).")  # fmt: skip
    config = HiLightConfig(
        clip_vip_config=vip.config.to_dict(),
        long_clip_config=keyframe_tower.config.to_dict(),
        text_config={**llm.config.to_dict(), **({"hidden_act": "gelu_python"} if exact_gelu else {})},
        token_mining_variant="reference",
        queries_per_frame=mining.queries_per_frame,
        token_mining_hidden_size=keyframe_tower.config.projection_dim,
        video_token_id=video_token_id,
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


def _tokenizer_in(folder):
    from transformers import AutoTokenizer

    if not any(os.path.exists(os.path.join(folder, f)) for f in ("tokenizer.json", "tokenizer_config.json")):
        return None
    return AutoTokenizer.from_pretrained(folder)


def video_tokenizer(tokenizer, video_token: str = "<video>", spare_token: str = SPARE_TOKEN):
    """The tokenizer with `spare_token` renamed `video_token` (same id, now a special token), so
    that `<video>` falls inside the LLM's embedding table. A tokenizer that already has
    `video_token` is returned as it is."""
    from transformers import AutoTokenizer

    if video_token in tokenizer.get_vocab():
        return tokenizer
    spare = tokenizer.convert_tokens_to_ids(spare_token)
    if spare is None or spare == tokenizer.unk_token_id:
        raise ValueError(f"the tokenizer has neither {video_token!r} nor the reserved token {spare_token!r} to give "
                         f"its id to; pass video_token_id and a tokenizer that has {video_token!r}.")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        path = os.path.join(folder, "tokenizer.json")
        if not os.path.exists(path):
            raise ValueError(f"renaming {spare_token!r} needs a fast tokenizer (tokenizer.json); got {type(tokenizer).__name__}.")
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        for entry in state.get("added_tokens", []):
            if entry["content"] == spare_token:
                entry.update(content=video_token, special=True, normalized=False)
        vocab = state["model"].get("vocab")
        if isinstance(vocab, dict) and spare_token in vocab:
            vocab[video_token] = vocab.pop(spare_token)
        elif isinstance(vocab, list):  # Unigram: [piece, score] pairs
            state["model"]["vocab"] = [[video_token, score] if piece == spare_token else [piece, score]
                                       for piece, score in vocab]  # fmt: skip
        with open(path, "w", encoding="utf-8") as f:
            json.dump(state, f, ensure_ascii=False)
        renamed = AutoTokenizer.from_pretrained(folder)
    if renamed.convert_tokens_to_ids(video_token) != spare or renamed(video_token, add_special_tokens=False)["input_ids"] != [spare]:
        raise ValueError(f"could not give {video_token!r} the id {spare} of {spare_token!r} in this tokenizer.")
    return renamed


def hilight_processor(tokenizer, config: HiLightConfig):
    """The processor for a converted HiLight: the LLM's tokenizer with `<video>` (`video_tokenizer`),
    frames at the CLIP-ViP tower's size, the config's frame count and tokens per frame."""
    from .processing import HiLightProcessor, HiLightVideoProcessor

    tokenizer = video_tokenizer(tokenizer)
    if tokenizer.convert_tokens_to_ids("<video>") != config.video_token_id:
        raise ValueError(f"the tokenizer gives <video> the id {tokenizer.convert_tokens_to_ids('<video>')} but the "
                         f"model's video_token_id is {config.video_token_id}.")  # fmt: skip
    video = HiLightVideoProcessor(size=config.clip_vip_config.image_size, num_frames=config.num_frames)
    return HiLightProcessor(video, tokenizer, queries_per_frame=config.vision_tokens_per_frame)


def convert_hilight(clip_vip, long_clip, token_mining, language_model, out, tokenizer=None, **config_overrides):
    """`assemble_hilight`, then the model and its processor (`hilight_processor`; the tokenizer from
    `tokenizer` or the LLM folder) saved together in `out`. Generation stops on `<end_of_turn>` and
    `<eos>`, the ends of a model turn in the reference's format."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer) if isinstance(tokenizer, (str, os.PathLike)) else tokenizer
    tokenizer = tokenizer if tokenizer is not None else _tokenizer_in(language_model)
    if tokenizer is None:
        raise ValueError(f"{language_model} has no tokenizer; pass tokenizer= (the LLM's).")
    tokenizer = video_tokenizer(tokenizer)
    model = assemble_hilight(clip_vip, long_clip, token_mining, language_model,
                             video_token_id=tokenizer.convert_tokens_to_ids("<video>"), **config_overrides)  # fmt: skip
    processor = hilight_processor(tokenizer, model.config)
    stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<end_of_turn>", tokenizer.eos_token)]
    model.generation_config.eos_token_id = [i for i in stops if i is not None and i != tokenizer.unk_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return model, processor


__all__ = [
    "assemble_hilight",
    "convert_hilight",
    "convert_token_mining_checkpoint",
    "hilight_processor",
    "read_token_mining_checkpoint",
    "video_tokenizer",
]
