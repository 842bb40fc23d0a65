"""Captions and question-answer pairs computed from a shot's event log.

Every answer is a fact of the simulation. The questions are chosen so that the question alone
gives little away: yes/no questions are asked about as often with either answer, counts are asked
about balls picked to spread the counts, and "which ball" answers vary with the random layouts.
`answer_balance` measures it: per question type, the accuracy of always giving the most common
answer.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from .physics import TABLE_LENGTH, TABLE_WIDTH, Simulation, ball_name

QUESTION_TYPES = (
    "pocketed_which", "pocketed_where", "first_hit", "cue_pocketed", "cushion_count",
    "balls_remaining", "farthest", "rest_region", "touched",
)  # fmt: skip

PHRASINGS = {
    "pocketed_which": ["Which ball went into a pocket?", "Which ball was pocketed?", "What ball dropped into a pocket?"],
    "pocketed_where": ["Which pocket did the {ball} go into?", "Where was the {ball} pocketed?",
                       "In which pocket did the {ball} end up?"],
    "first_hit": ["Which ball did the cue ball hit first?", "What was the first ball the cue ball touched?",
                  "Which ball was struck first by the cue ball?"],
    "cue_pocketed": ["Was the cue ball pocketed?", "Did the cue ball go into a pocket?", "Did the cue ball scratch?"],
    "cushion_count": ["How many cushions did the {ball} touch?", "How many times did the {ball} hit a cushion?"],
    "balls_remaining": ["How many object balls are left on the table?", "How many balls remain on the table, "
                        "not counting the cue ball?"],
    "farthest": ["Which ball moved the farthest?", "Which ball travelled the longest distance?"],
    "rest_region": ["Where did the {ball} come to rest?", "In which part of the table did the {ball} stop?"],
    "touched": ["Did the {a} and the {b} touch?", "Did the {a} collide with the {b}?"],
}  # fmt: skip
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen"]  # fmt: skip


@dataclass
class QA:
    type: str
    question: str
    answer: str  # the short answer: the fact itself
    sentence: str  # the same as a full sentence


class ShotFacts:
    """What happened, read off the event log and the trajectory."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        events = sim.events
        self.pockets = [(e.balls[0], e.detail) for e in events if e.kind == "pocket"]
        self.object_pockets = [(b, p) for b, p in self.pockets if b != 0]
        self.cue_pocketed = any(b == 0 for b, _ in self.pockets)
        hits = [e.balls for e in events if e.kind == "collision" and 0 in e.balls]
        self.first_hit = next((b for b in hits[0] if b != 0), None) if hits else None
        self.cushions = Counter(e.balls[0] for e in events if e.kind == "cushion")
        self.pairs = {tuple(sorted(e.balls)) for e in events if e.kind == "collision"}
        steps = np.nan_to_num(np.linalg.norm(np.diff(sim.trajectory, axis=0), axis=-1))
        self.distance = dict(zip(sim.numbers, steps.sum(axis=0).tolist()))
        self.final = sim.final_positions
        self.remaining = sum(1 for n, p in self.final.items() if n != 0 and p is not None)

    def cushions_before_pocket(self, ball: int) -> int:
        t = next(e.time for e in self.sim.events if e.kind == "pocket" and e.balls[0] == ball)
        return sum(1 for e in self.sim.events if e.kind == "cushion" and e.balls[0] == ball and e.time < t)


def region(x: float, y: float) -> str:
    """One of six areas: top/bottom x left/middle/right."""
    column = ("left", "middle", "right")[min(int(3 * x / TABLE_LENGTH), 2)]
    return f"{'top' if y < TABLE_WIDTH / 2 else 'bottom'}-{column}"


def _count(n: int) -> str:
    return {0: "no cushions", 1: "one cushion"}.get(n, f"{NUMBER_WORDS[min(n, 15)]} cushions")


def caption(facts: ShotFacts, rng: np.random.Generator) -> str:
    """One sentence for the encoder stage, naming balls by colour and number."""
    parts = []
    if facts.first_hit is None:
        parts.append(rng.choice(["the cue ball misses every ball", "the cue ball touches no other ball"]))
    else:
        parts.append(f"the cue ball {rng.choice(['hits', 'strikes', 'contacts'])} the {ball_name(facts.first_hit)} first")
    for ball, pocket in facts.object_pockets:
        cushions = facts.cushions_before_pocket(ball)
        after = "" if cushions == 0 else f" after {_count(cushions)}"
        parts.append(f"the {ball_name(ball)} {rng.choice(['drops into', 'goes into', 'falls into'])} "
                     f"the {pocket} pocket{after}")  # fmt: skip
    if not facts.object_pockets:
        parts.append(rng.choice(["no ball is pocketed", "nothing goes down"]))
    if facts.cue_pocketed:
        parts.append("the cue ball is pocketed too")
    text = ", and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]
    return text[0].upper() + text[1:] + "."


def candidate_questions(facts: ShotFacts, rng: np.random.Generator) -> list[QA]:
    """The questions worth asking about this shot, each with its answer (see module docstring)."""
    pick = lambda kind: str(rng.choice(PHRASINGS[kind]))  # noqa: E731
    out: list[QA] = []
    on_table = [n for n in facts.sim.numbers if facts.final[n] is not None]
    # which ball was pocketed: asked when one was, and now and then when none was
    if facts.object_pockets or rng.random() < 0.15:
        if facts.object_pockets:
            ball = facts.object_pockets[0][0]
            out.append(QA("pocketed_which", pick("pocketed_which"), f"the {ball_name(ball)}",
                          f"The {ball_name(ball)} went into the {facts.object_pockets[0][1]} pocket."))  # fmt: skip
        else:
            out.append(QA("pocketed_which", pick("pocketed_which"), "none", "No ball was pocketed."))
    for ball, pocket in facts.object_pockets[:1]:
        out.append(QA("pocketed_where", pick("pocketed_where").format(ball=ball_name(ball)), pocket,
                      f"The {ball_name(ball)} went into the {pocket} pocket."))  # fmt: skip
    if facts.first_hit is not None:
        name = ball_name(facts.first_hit)
        out.append(QA("first_hit", pick("first_hit"), f"the {name}", f"The cue ball hit the {name} first."))
    # yes/no on the cue ball, balanced: "yes" is rare, so "no" is asked about as rarely
    if facts.cue_pocketed or rng.random() < 0.08:
        yes = facts.cue_pocketed
        out.append(QA("cue_pocketed", pick("cue_pocketed"), "yes" if yes else "no",
                      "Yes, the cue ball went into a pocket." if yes else "No, the cue ball stayed on the table."))  # fmt: skip
    # cushions: first choose the count (spread), then a ball with that count
    by_count = defaultdict(list)
    for n in facts.sim.numbers:
        by_count[min(facts.cushions.get(n, 0), 3)].append(n)
    counts = sorted(by_count)
    weights = np.array([0.25 if c == 0 else 1.0 for c in counts])  # most balls touch none: ask that less
    count = int(rng.choice(counts, p=weights / weights.sum()))
    ball = int(rng.choice(by_count[count]))
    words = {3: "three or more"}.get(count, NUMBER_WORDS[count])
    out.append(QA("cushion_count", pick("cushion_count").format(ball=ball_name(ball)), words,
                  f"The {ball_name(ball)} touched {words} cushion{'s' if count != 1 else ''}."))  # fmt: skip
    out.append(QA("balls_remaining", pick("balls_remaining"), NUMBER_WORDS[facts.remaining],
                  f"{NUMBER_WORDS[facts.remaining].capitalize()} object ball{'s' if facts.remaining != 1 else ''} "
                  f"{'are' if facts.remaining != 1 else 'is'} left on the table."))  # fmt: skip
    farthest = max(facts.distance, key=facts.distance.get)
    if farthest != 0 or rng.random() < 0.2:  # the cue ball usually travels farthest: ask that less
        out.append(QA("farthest", pick("farthest"), f"the {ball_name(farthest)}",
                      f"The {ball_name(farthest)} moved the farthest."))  # fmt: skip
    ball = int(rng.choice(on_table)) if on_table else None
    if ball is not None:
        area = region(*facts.final[ball])
        out.append(QA("rest_region", pick("rest_region").format(ball=ball_name(ball)), f"the {area} area",
                      f"The {ball_name(ball)} stopped in the {area} area of the table."))  # fmt: skip
    # touched: half the time a pair that touched, half a pair that did not
    numbers = facts.sim.numbers
    all_pairs = [(a, b) for i, a in enumerate(numbers) for b in numbers[i + 1 :]]
    touched = [p for p in all_pairs if p in facts.pairs]
    untouched = [p for p in all_pairs if p not in facts.pairs]
    pool = touched if (touched and (rng.random() < 0.5 or not untouched)) else untouched
    if pool:
        a, b = pool[int(rng.integers(len(pool)))]
        if rng.random() < 0.5:
            a, b = b, a
        yes = tuple(sorted((a, b))) in facts.pairs
        out.append(QA("touched", pick("touched").format(a=ball_name(a), b=ball_name(b)), "yes" if yes else "no",
                      f"{'Yes' if yes else 'No'}, the {ball_name(a)} and the {ball_name(b)} "
                      f"{'touched' if yes else 'did not touch'}."))  # fmt: skip
    return out


def conversation(video_path: str, items: list[QA], rng: np.random.Generator) -> list[dict]:
    """A chat: the video in the first user turn, one question per turn, short or full answers."""
    messages = []
    for k, qa in enumerate(items):
        content = ([{"type": "video", "path": video_path}] if k == 0 else []) + [{"type": "text", "text": qa.question}]
        answer = qa.sentence if rng.random() < 0.5 else qa.answer
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return messages


def answer_balance(items: list[QA]) -> dict[str, dict]:
    """Per question type: how many asked, distinct answers, and the accuracy of always answering
    the most common answer (what a model that ignores the video can reach)."""
    by_type = defaultdict(list)
    for qa in items:
        by_type[qa.type].append(qa.answer)
    report = {}
    for kind in QUESTION_TYPES:
        answers = by_type.get(kind, [])
        if not answers:
            continue
        common, hits = Counter(answers).most_common(1)[0]
        report[kind] = {"count": len(answers), "distinct": len(set(answers)), "majority_answer": common,
                        "majority_accuracy": round(hits / len(answers), 3)}  # fmt: skip
    return report


__all__ = [
    "QA", "QUESTION_TYPES", "ShotFacts", "answer_balance", "candidate_questions", "caption", "conversation", "region",
]  # fmt: skip
