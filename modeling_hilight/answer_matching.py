"""Scoring a generated answer on its fact: the ball, the pocket, the count, yes or no.

`parse_fact(kind, text)` reads the fact a free-form answer states, in the form of
`training.billiards.text.answer_fact` (the ground truth): a sorted tuple of ball numbers, a pocket
or region name, an int, or a bool; None when the answer states none (or contradicts itself).
`match_answer(kind, text, fact)` is True when they agree. So "The striped green 14.", "the green
14" and "14" all name ball 14; "zero", "no cushions" and "0" are 0; "Bottom-middle." and "the
bottom middle pocket" are one pocket; "No, they did not touch." is False.

Balls are named by colour and number as the world names them; a colour alone names the solid
("striped" the stripe), a bare number names the ball unless a count noun follows it ("3 cushions").
Number words are counts, never balls.
"""

from __future__ import annotations

import re

from .training.billiards.physics import BALL_COLOURS
from .training.billiards.text import BALL_TYPES, NUMBER_WORDS, QUESTION_TYPES

COLOURS = {name: number for number, (name, _) in BALL_COLOURS.items() if number <= 8}  # white 0 ... black 8
_COLOUR = "|".join(COLOURS)
# one ball: "cue ball", "white ball", "(the) striped green 14", "green 14", "striped green", "ball 14", "#14", "14"
_BALL = re.compile(
    rf"\b(?:(?P<cue>cue)(?:\s+ball)?|(?P<kind>striped|stripe|solid)?\s*(?P<colour>{_COLOUR})?"
    rf"(?:\s+ball)?\s*(?:(?:number|no\.|ball|\#)\s*)?(?P<number>\d+)?)\b(?!\s*(?:cushions?|times|balls|seconds|pockets?)\b)"
)
_NONE = re.compile(r"\b(?:none|nothing|no\s+(?:other\s+|object\s+)?balls?|not\s+(?:hit|touch|contact)\s+any|"
                   r"(?:did\s*n[o']t|didn't)\s+(?:hit|touch|contact)|miss(?:es|ed)?)\b")  # fmt: skip
_PLACE = re.compile(r"\b(top|bottom|upper|lower)\s*-?\s*(left|right|middle|centre|center|side)\b")
_PLACE_WORDS = {"upper": "top", "lower": "bottom", "centre": "middle", "center": "middle", "side": "middle"}
_COUNT_WORDS = {word: n for n, word in enumerate(NUMBER_WORDS)} | {"once": 1, "twice": 2, "thrice": 3, "no": 0,
                                                                  "none": 0, "never": 0}  # fmt: skip
_NEGATION = re.compile(r"\b(?:no|not|never|none|nope|neither|nor|stayed|stays|remained|remains|missed|apart)\b|n't\b")
_YES = re.compile(r"\b(?:yes|yeah|yep|correct|indeed)\b")
_NO = re.compile(r"\b(?:no|nope)\b")
_AFFIRMATIVE = re.compile(r"\b(?:did|was|were|touched|touch|collided|hit|contacted|went|pocketed|potted|scratched|"
                          r"dropped|fell|ended)\b")  # fmt: skip


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def ball_mentions(text: str) -> list[int]:
    """The balls a text names, in order; -1 for a mention whose colour, stripe and number disagree."""
    found = []
    for m in _BALL.finditer(_normalise(text)):
        cue, kind, colour, number = m["cue"], m["kind"], m["colour"], m["number"]
        if cue or colour == "white":
            if number is None and not kind:
                found.append(0)
                continue
            found.append(-1)
            continue
        if number is not None:
            n = int(number)
            ok = 1 <= n <= 15 and (colour is None or COLOURS[colour] == (n - 8 if n > 8 else n))
            ok = ok and not (kind in ("striped", "stripe") and n <= 8) and not (kind == "solid" and n > 8)
            found.append(n if ok else -1)
        elif colour is not None:
            striped = kind in ("striped", "stripe")
            found.append(-1 if striped and colour == "black" else COLOURS[colour] + (8 if striped else 0))
    return found


def _strip_ball_names(text: str) -> str:
    """The text without ball names that carry a number ("the red 3"), so their digits are not counts."""
    return re.sub(rf"\b(?:(?:striped|stripe|solid)\s+)?(?:{_COLOUR})\s+\d+\b|\bcue\s+ball\b|\bball\s+\d+\b", " ", text)


def _count(text: str, cap: int | None) -> int | None:
    words = re.findall(r"\d+|[a-z]+", _strip_ball_names(text))
    numbers = {int(w) if w.isdigit() else _COUNT_WORDS[w] for w in words if w.isdigit() or w in _COUNT_WORDS}
    explicit = {n for n in numbers if n != 0} | ({0} if re.search(r"\b(?:zero|0)\b", text) else set())
    if cap is not None:
        explicit = {min(n, cap) for n in explicit}
    if len(explicit) == 1:
        return explicit.pop()
    if not explicit and (numbers or _NEGATION.search(text)):
        return 0  # "no cushions", "none", "did not touch a cushion"
    return None


def parse_fact(kind: str, text: str):
    """The fact `text` states for a question of type `kind`, or None (see the module docstring)."""
    if kind not in QUESTION_TYPES:
        raise ValueError(f"unknown question type {kind!r}; one of {QUESTION_TYPES}.")
    text = _normalise(text)
    if kind in BALL_TYPES:
        balls = ball_mentions(text)
        if -1 in balls:
            return None
        if kind != "farthest" and any(b != 0 for b in balls):
            balls = [b for b in balls if b != 0]  # "the cue ball hit the red 3 first": the cue ball is the subject
        if not balls or (kind != "farthest" and _NONE.search(text) and balls == [0]):
            return () if _NONE.search(text) else None
        return tuple(sorted(set(balls)))
    if kind in ("pocketed_where", "rest_region"):
        places = {f"{_PLACE_WORDS.get(a, a)}-{_PLACE_WORDS.get(b, b)}" for a, b in _PLACE.findall(text)}
        return places.pop() if len(places) == 1 else None
    if kind in ("cue_pocketed", "touched"):
        yes, no = _YES.search(text), _NO.search(text)
        if yes or no:  # the first explicit word decides ("Yes, ..."; "No, they did not touch")
            return bool(yes) and (not no or yes.start() < no.start())
        if _NEGATION.search(text):
            return False
        return True if _AFFIRMATIVE.search(text) else None
    return _count(text, cap=3 if kind == "cushion_count" else None)


def match_answer(kind: str, text: str, fact) -> bool:
    """True when the answer `text` states `fact` (the ground truth, as `answer_fact` gives it)."""
    got = parse_fact(kind, text)
    if kind in BALL_TYPES and got is not None:
        return tuple(got) == tuple(fact)
    return got is not None and got == fact


__all__ = ["ball_mentions", "match_answer", "parse_fact"]
