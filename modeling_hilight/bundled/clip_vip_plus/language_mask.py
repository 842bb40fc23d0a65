"""HiLight's language mask: which text tokens take part in the SPARC local loss.

Padding, special tokens and words with abstract meaning ("the", "of", "start of the game") cannot
be grounded in patches; the mask removes them from the local loss so they act as global tokens.
"""

from collections.abc import Iterable

import torch

from .configuration_clip_vip_plus import DEFAULT_STOPWORDS

# Old CLIP configs say eos_token_id=2; transformers then pools at the highest id (argmax), which is the
# end-of-text token in CLIP's vocabulary (its last id)
LEGACY_CLIP_EOS = 2


def build_language_mask(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    excluded_token_ids: Iterable[int],
) -> torch.Tensor:
    """True where a token takes part in the local loss: attended to and not an excluded id."""
    mask = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    excluded = torch.tensor(sorted(set(excluded_token_ids)), dtype=input_ids.dtype, device=input_ids.device)
    if excluded.numel():
        mask = mask & ~torch.isin(input_ids, excluded)
    return mask


def special_token_ids(text_config) -> set[int]:
    """The ids of padding, start and end tokens named by a CLIP text config."""
    ids = set()
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        value = getattr(text_config, name, None)
        if value is None:
            continue
        ids.update(value if isinstance(value, (list, tuple)) else [value])
    return ids


def stopword_token_ids(tokenizer, stopwords: Iterable[str]) -> list[int]:
    """Token ids of the stop words that the tokenizer keeps as one token (with or without a
    leading space); a word outside the vocabulary or split into pieces is skipped, since masking its pieces would also mask
    them inside other words. Store the result in `config.language_mask_token_ids`."""
    ids = set()
    unknown = {getattr(tokenizer, "unk_token_id", None), *getattr(tokenizer, "all_special_ids", [])}
    for word in stopwords:
        for variant in (word, " " + word):
            pieces = tokenizer(variant, add_special_tokens=False)["input_ids"]
            if len(pieces) == 1 and pieces[0] not in unknown:  # a word outside the vocabulary is no stop word
                ids.add(int(pieces[0]))
    return sorted(ids)


def use_tokenizer(config, tokenizer, stopwords: Iterable[str] | None = None) -> None:
    """Tie a `CLIPViPPlusConfig`'s language mask to the tokenizer that cuts its captions.

    * The text config's pad, bos and eos ids become the tokenizer's. (CLIPTextConfig's default pad id
      1 is `"` in CLIP's BPE: the mask would remove quotes.) The text tower pools at eos, so a
      tokenizer with another eos is not this model's and is refused; the legacy eos 2 is replaced.
    * Under the `"stopwords"` policy, empty `language_mask_token_ids` are filled with the ids of
      `stopwords` (default `DEFAULT_STOPWORDS`); ids already there (a trained model's) are kept.
    """
    text = config.text_config
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    if len(tokenizer) > text.vocab_size:
        raise ValueError(
            f"tokenizer {name!r} has {len(tokenizer)} tokens but the text tower's vocabulary only {text.vocab_size}: "
            "it is not the tokenizer the model was built for."
        )
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError(f"tokenizer {name!r} has no eos token; the CLIP text tower pools at it.")
    if text.eos_token_id not in (eos, LEGACY_CLIP_EOS):
        raise ValueError(
            f"tokenizer {name!r} ends text with id {eos} ({tokenizer.eos_token!r}) but this text tower pools at "
            f"id {text.eos_token_id}: it is not the tokenizer the model was built for."
        )
    text.pad_token_id, text.bos_token_id, text.eos_token_id = tokenizer.pad_token_id, tokenizer.bos_token_id, eos
    if config.language_mask_policy == "stopwords" and not config.language_mask_token_ids:
        config.language_mask_token_ids = stopword_token_ids(tokenizer, DEFAULT_STOPWORDS if stopwords is None else stopwords)


__all__ = ["build_language_mask", "special_token_ids", "stopword_token_ids", "use_tokenizer"]
