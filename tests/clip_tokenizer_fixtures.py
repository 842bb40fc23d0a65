"""A small `CLIPTokenizer` built the way OpenAI's CLIP vocabulary is: the 256 byte symbols, the same
with `</w>`, then one entry per merge, then `<|startoftext|>` and `<|endoftext|>` last. As in the real
one, id 1 is the `"` symbol (CLIPTextConfig's default pad id) and pad = eos = `<|endoftext|>`."""

from transformers import CLIPTokenizer

WORDS = (
    "a an the of to in on at by for with from and or but then after before while as is are was were it its this "
    "that there which what once again game start shot video clip frame scene one two three red yellow blue ball "
    "balls cue pocket pockets goes into top left right corner side rolls stops hits cushion cushions table"
).split()


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's map from bytes to printable characters (printable bytes map to themselves)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def _bpe(pieces: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    while len(pieces) > 1:
        pairs = [(ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(pieces, pieces[1:]))]
        rank, i = min(pairs)
        if rank == float("inf"):
            break
        pieces = pieces[:i] + [pieces[i] + pieces[i + 1]] + pieces[i + 2 :]
    return pieces


def clip_tokenizer(words=WORDS) -> CLIPTokenizer:
    """Every word of `words` is one token; anything else falls apart into byte symbols."""
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    ranks: dict[tuple[str, str], int] = {}
    for word in words:
        pieces = _bpe(list(word[:-1]) + [word[-1] + "</w>"], ranks)
        while len(pieces) > 1:  # a new merge only ever applies to this word: earlier ones are whole tokens
            ranks[(pieces[0], pieces[1])] = len(ranks)
            vocab.append(pieces[0] + pieces[1])
            pieces = _bpe(pieces, ranks)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    merges = [pair for pair, _ in sorted(ranks.items(), key=lambda item: item[1])]
    return CLIPTokenizer(vocab={token: i for i, token in enumerate(vocab)}, merges=merges)
