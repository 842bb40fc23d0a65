"""HiLight's language mask: which text tokens take part in the SPARC local loss.

Padding, special tokens and words with abstract meaning ("the", "of", "start of the game") cannot
be grounded in patches; the mask removes them from the local loss so they act as global tokens.
"""

from collections.abc import Iterable

import torch


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


__all__ = ["build_language_mask", "special_token_ids", "stopword_token_ids"]
