"""A small word-level tokenizer with Gemma's special tokens, trained offline from text.

Nothing can be downloaded here, so the bundled model, the tests and the demo train their own
tokenizer on the text they use. Special tokens sit at Gemma's ids (`<pad>` 0, `<eos>` 1,
`<bos>` 2, `<unk>` 3), followed by the turn markers and `<video>`, so prompts have the same
shape as with Gemma's tokenizer.
"""

import itertools
from collections.abc import Iterable

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<video>"]


def build_hilight_tokenizer(
    texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 1, model_max_length: int = 4096
) -> PreTrainedTokenizerFast:
    """A lower-cased word-level tokenizer (words and punctuation) over `texts`, at most `vocab_size`
    entries, with `<pad>`, `<eos>`, `<bos>`, `<unk>`, `<start_of_turn>`, `<end_of_turn>`, `<video>`
    at ids 0..6. It adds no tokens on its own: the chat template writes `<bos>`."""
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=SPECIAL_TOKENS)  # fmt: skip
    # the chat template's role names must be words of the vocabulary too
    tokenizer.train_from_iterator(itertools.chain(["user model"], texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        extra_special_tokens={"video_token": "<video>", "start_of_turn": "<start_of_turn>", "end_of_turn": "<end_of_turn>"},
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )


__all__ = ["SPECIAL_TOKENS", "build_hilight_tokenizer"]
