"""Ground truth for grounding: which words of a text name which ball, and where that ball is.

The world knows every ball's centre and radius in every frame (`ball_positions`). This module
turns that into what a grounding loss or a grounding evaluation needs: the character spans of
the words that name a ball ("red" and "3" in "the red 3", "cue" in "the cue ball"), and, for a
frame squash-resized to `size x size` and cut into patches, the patch that holds the ball's
centre and the patches its disc covers.
"""

from __future__ import annotations

import re

from .physics import BALL_COLOURS

COLOUR_WORDS = {colour for colour, _ in BALL_COLOURS.values()} - {"white"}
_WORD = re.compile(r"[A-Za-z]+|\d+")


def ball_words(text: str) -> list[tuple[int, int, int]]:
    """`[(start, end, ball)]`: character spans of the words that name a ball.

    A colour followed by a number names that ball ("red 3": both words; "striped red 11": "red"
    and "11", the colour being the word that tells the balls apart); "cue ball" and "white ball"
    name ball 0 by their first word. A colour that does not match the number ("red 5") names
    nothing, and neither do numbers that count ("one cushion", "3 balls").
    """
    words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    spans = []
    for i, (start, end, word) in enumerate(words):
        following = words[i + 1][2] if i + 1 < len(words) else None
        if word in ("cue", "white") and following == "ball":
            spans.append((start, end, 0))
        elif word in COLOUR_WORDS and following is not None and following.isdigit():
            number = int(following)
            if 1 <= number <= 15 and BALL_COLOURS[number][0] == word:
                spans += [(start, end, number), (words[i + 1][0], words[i + 1][1], number)]
    return spans


def token_balls(offsets: list[tuple[int, int]], spans: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """`[(token_index, ball)]` for the tokens (given by their character `offsets`, as a fast
    tokenizer's `return_offsets_mapping` gives them) that fall inside a ball-naming word."""
    out = []
    for index, (start, end) in enumerate(offsets):
        if end <= start:
            continue  # special and padding tokens have empty spans
        for word_start, word_end, ball in spans:
            if word_start <= start and end <= word_end:
                out.append((index, ball))
                break
    return out


def ball_patch(x: float, y: float, width: int, height: int, size: int, patch: int) -> int:
    """The patch (row-major over a `size x size` frame cut into `patch`-pixel squares) that holds
    the point (x, y) of a `width x height` frame after a squash resize to `size x size`."""
    grid = size // patch
    column = min(int(x * size / width // patch), grid - 1)
    row = min(int(y * size / height // patch), grid - 1)
    return max(row, 0) * grid + max(column, 0)


def ball_patches(x: float, y: float, radius: float, width: int, height: int, size: int, patch: int) -> set[int]:
    """Every patch that the ball's disc (squash-resized to an ellipse) overlaps."""
    grid = size // patch
    sx, sy = size / width, size / height
    cx, cy, rx, ry = x * sx, y * sy, radius * sx, radius * sy
    out = set()
    for row in range(max(int((cy - ry) // patch), 0), min(int((cy + ry) // patch), grid - 1) + 1):
        for column in range(max(int((cx - rx) // patch), 0), min(int((cx + rx) // patch), grid - 1) + 1):
            # the ellipse's point nearest to the patch's rectangle decides overlap
            nx = min(max(cx, column * patch), (column + 1) * patch)
            ny = min(max(cy, row * patch), (row + 1) * patch)
            if ((nx - cx) / rx) ** 2 + ((ny - cy) / ry) ** 2 <= 1.0:
                out.add(row * grid + column)
    return out


def query_targets(positions: list[list[dict]], frame_indices: list[int], width: int, height: int, size: int,
                  patch: int, prefix: int, queries: int) -> list[list[int]]:  # fmt: skip
    """Per sampled frame, per token-mining query j (= ball j, the cue ball being 0): the index, in
    [prefix tokens, that frame's patches], of the patch that holds ball j, or 0 (CLS) when ball j is
    not on the table in that frame; queries beyond the 16 balls get -100 (no label)."""
    out = []
    for index in frame_indices:
        row = [0 if j < 16 else -100 for j in range(queries)]
        for seen in positions[index]:
            if seen["ball"] < queries:
                row[seen["ball"]] = prefix + ball_patch(seen["x"], seen["y"], width, height, size, patch)
        out.append(row)
    return out


__all__ = ["COLOUR_WORDS", "ball_patch", "ball_patches", "ball_words", "query_targets", "token_balls"]
