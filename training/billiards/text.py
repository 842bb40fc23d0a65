"""Captions and question-answer pairs computed from a shot's event log.

Every answer is a fact of the simulation. A model that ignores the video should do poorly, so the
questions are chosen with the answers in mind: `candidate_questions` offers every question worth
asking about one shot (several balls, several pairs), and `choose_questions` walks through a split
and asks a candidate only while its answer stays under a share cap for its question type (a yes/no
type stays near 50/50, "which pocket" near 1/6, ...). `answer_balance` measures the result: per
question type, the accuracy of always giving the most common answer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from .physics import POCKETS, TABLE_LENGTH, TABLE_WIDTH, Simulation, ball_name

QUESTION_TYPES = (
    "pocketed_which", "pocketed_where", "first_hit", "cue_pocketed", "cushion_count",
    "balls_remaining", "farthest", "rest_region", "touched",
)  # fmt: skip

# the highest share one answer may take within its type (about 1 / number of likely answers)
ANSWER_CAPS = {
    "pocketed_which": 0.12, "pocketed_where": 0.2, "first_hit": 0.12, "cue_pocketed": 0.5, "cushion_count": 0.3,
    "balls_remaining": 0.12, "farthest": 0.15, "rest_region": 0.2, "touched": 0.5,
}  # fmt: skip

PHRASINGS = {
    "pocketed_which": ["Which ball went into a pocket?", "Which ball was pocketed?", "What ball dropped into a pocket?",
                       "Name the ball that was potted."],
    "pocketed_where": ["Which pocket did the {ball} go into?", "Where was the {ball} pocketed?",
                       "In which pocket did the {ball} end up?", "The {ball} was potted. Which pocket?"],
    "first_hit": ["Which ball did the cue ball hit first?", "What was the first ball the cue ball touched?",
                  "Which ball was struck first by the cue ball?", "What did the cue ball contact first?"],
    "cue_pocketed": ["Was the cue ball pocketed?", "Did the cue ball go into a pocket?", "Did the cue ball scratch?",
                     "Did the white ball end up in a pocket?"],
    "cushion_count": ["How many cushions did the {ball} touch?", "How many times did the {ball} hit a cushion?",
                      "Count the cushion contacts of the {ball}."],
    "balls_remaining": ["How many object balls are left on the table?",
                        "How many balls remain on the table, not counting the cue ball?",
                        "After the shot, how many numbered balls are still on the table?"],
    "farthest": ["Which ball moved the farthest?", "Which ball travelled the longest distance?",
                 "Which ball covered the most distance during the shot?"],
    "rest_region": ["Where did the {ball} come to rest?", "In which part of the table did the {ball} stop?",
                    "Where is the {ball} at the end of the shot?"],
    "touched": ["Did the {a} and the {b} touch?", "Did the {a} collide with the {b}?",
                "Was there contact between the {a} and the {b}?"],
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
        self.cue_pocket = next((p for b, p in self.pockets if b == 0), None)
        self.cue_pocketed = self.cue_pocket is not None
        hits = [e.balls for e in events if e.kind == "collision" and 0 in e.balls]
        self.first_hit = next(b for b in hits[0] if b != 0) if hits else None
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


def _cushions(n: int) -> str:
    return {0: "no cushion", 1: "one cushion"}.get(n, f"{NUMBER_WORDS[min(n, 15)]} cushions")


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _choice(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def caption(facts: ShotFacts, rng: np.random.Generator) -> str:
    """One or two sentences for the encoder stage, naming balls by colour and number, from varied
    templates ("The cue ball sends the red 3 into the top-left pocket after one cushion.")."""
    parts = []
    pots = list(facts.object_pockets)
    if facts.first_hit is None:
        parts.append(_choice(rng, ["the cue ball misses every ball", "the cue ball touches no other ball",
                                   "the cue ball rolls without hitting a ball"]))  # fmt: skip
    elif pots and pots[0][0] == facts.first_hit and rng.random() < 0.6:
        ball, pocket = pots.pop(0)
        n = facts.cushions_before_pocket(ball)
        after = "" if n == 0 else f" after {_cushions(n)}"
        parts.append(_choice(rng, [f"the cue ball sends the {ball_name(ball)} into the {pocket} pocket{after}",
                                   f"the cue ball pots the {ball_name(ball)} in the {pocket} pocket{after}",
                                   f"the {ball_name(ball)} is cut into the {pocket} pocket{after}"]))  # fmt: skip
    else:
        first = ball_name(facts.first_hit)
        parts.append(_choice(rng, [f"the cue ball hits the {first} first", f"the cue ball strikes the {first} first",
                                   f"the first ball the cue ball contacts is the {first}",
                                   f"the white ball makes first contact with the {first}"]))  # fmt: skip
    for ball, pocket in pots:
        n = facts.cushions_before_pocket(ball)
        after = "" if n == 0 else f" after {_cushions(n)}"
        verb = _choice(rng, ["drops into", "goes into", "falls into", "rolls into"])
        name = "it" if ball == facts.first_hit and len(parts) == 1 else f"the {ball_name(ball)}"
        parts.append(f"{name} {verb} the {pocket} pocket{after}")
    if not facts.object_pockets:
        parts.append(_choice(rng, ["no ball is pocketed", "nothing goes down", "every object ball stays on the table"]))
    if facts.cue_pocketed:
        parts.append(_choice(rng, [f"the cue ball falls into the {facts.cue_pocket} pocket too",
                                   f"the cue ball scratches in the {facts.cue_pocket} pocket"]))  # fmt: skip
    text = ", and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]
    text = text[0].upper() + text[1:] + "."
    if rng.random() < 0.4:
        left = facts.remaining
        text += f" {NUMBER_WORDS[left].capitalize()} object ball{'s' if left != 1 else ''} {'remain' if left != 1 else 'remains'}."
    return text


def candidate_questions(facts: ShotFacts, rng: np.random.Generator) -> list[QA]:
    """Every question worth asking about this shot, each with its answer: one per shot-wide fact,
    and several balls or pairs for the per-ball ones (`choose_questions` picks among them)."""
    pick = lambda kind: _choice(rng, PHRASINGS[kind])  # noqa: E731
    sim, out = facts.sim, []
    pots = facts.object_pockets
    if pots:
        names = [f"the {ball_name(b)}" for b, _ in pots]
        where = [f"the {ball_name(b)} into the {p} pocket" for b, p in pots]
        sentence = f"The {ball_name(pots[0][0])} went into the {pots[0][1]} pocket" + "".join(
            f"{' and' if k == len(where) - 1 else ','} {w}" for k, w in enumerate(where) if k > 0)
        out.append(QA("pocketed_which", pick("pocketed_which"), _listing(names), sentence + "."))
    else:
        out.append(QA("pocketed_which", pick("pocketed_which"), "none", "No ball was pocketed."))
    for ball, pocket in pots:
        out.append(QA("pocketed_where", pick("pocketed_where").format(ball=ball_name(ball)), pocket,
                      f"The {ball_name(ball)} went into the {pocket} pocket."))  # fmt: skip
    if facts.first_hit is not None:
        name = ball_name(facts.first_hit)
        out.append(QA("first_hit", pick("first_hit"), f"the {name}", f"The cue ball hit the {name} first."))
    else:
        out.append(QA("first_hit", pick("first_hit"), "none", "The cue ball did not hit any ball."))
    yes = facts.cue_pocketed
    out.append(QA("cue_pocketed", pick("cue_pocketed"), "yes" if yes else "no",
                  f"Yes, the cue ball went into the {facts.cue_pocket} pocket." if yes
                  else "No, the cue ball stayed on the table."))  # fmt: skip
    for ball in rng.permutation(sim.numbers)[:4].tolist():
        count = min(facts.cushions.get(ball, 0), 3)
        words = {3: "three or more"}.get(count, NUMBER_WORDS[count])
        out.append(QA("cushion_count", pick("cushion_count").format(ball=ball_name(ball)), words,
                      f"The {ball_name(ball)} touched {'no' if count == 0 else words} cushion{'s' if count != 1 else ''}."))  # fmt: skip
    left = facts.remaining
    out.append(QA("balls_remaining", pick("balls_remaining"), NUMBER_WORDS[left],
                  f"{NUMBER_WORDS[left].capitalize()} object ball{'s' if left != 1 else ''} "
                  f"{'are' if left != 1 else 'is'} left on the table."))  # fmt: skip
    farthest = max(facts.distance, key=facts.distance.get)
    out.append(QA("farthest", pick("farthest"), f"the {ball_name(farthest)}",
                  f"The {ball_name(farthest)} moved the farthest."))  # fmt: skip
    on_table = [n for n in sim.numbers if facts.final[n] is not None]
    for ball in rng.permutation(on_table)[:3].tolist():
        area = region(*facts.final[ball])
        out.append(QA("rest_region", pick("rest_region").format(ball=ball_name(ball)), f"the {area} area",
                      f"The {ball_name(ball)} stopped in the {area} area of the table."))  # fmt: skip
    numbers = sim.numbers
    pairs = [(a, b) for i, a in enumerate(numbers) for b in numbers[i + 1 :]]
    touched = [p for p in pairs if p in facts.pairs]
    untouched = [p for p in pairs if p not in facts.pairs]
    for pool in (touched, untouched):
        for k in rng.permutation(len(pool))[:2].tolist():
            a, b = pool[k] if rng.random() < 0.5 else pool[k][::-1]
            yes = pool is touched
            out.append(QA("touched", pick("touched").format(a=ball_name(a), b=ball_name(b)), "yes" if yes else "no",
                          f"{'Yes' if yes else 'No'}, the {ball_name(a)} and the {ball_name(b)} "
                          f"{'touched' if yes else 'did not touch'}."))  # fmt: skip
    return out


def choose_questions(candidates: list[list[QA]], seeds: list[int], max_turns: int = 3,
                     caps: dict[str, float] | None = None, warmup: int = 2) -> list[list[QA]]:  # fmt: skip
    """For each shot in turn (one split), ask 1..`max_turns` of its candidates, at most one per type.

    Types asked least so far go first; a candidate is asked only if its answer holds less than
    `caps[type]` of that type's answers (after `warmup` answers of the type), so always giving one
    answer scores at most about the cap. Every shot gets at least one question. Deterministic for
    the same candidates and seeds.
    """
    caps = caps or ANSWER_CAPS
    counts: dict[str, Counter] = defaultdict(Counter)

    def allowed(qa: QA) -> bool:  # the answer stays within its cap (checked before adding, so 50/50 can alternate)
        total = sum(counts[qa.type].values())
        return total < warmup or counts[qa.type][qa.answer] < caps[qa.type] * (total + 1)

    chosen_all = []
    for items, seed in zip(candidates, seeds):
        if not items:
            raise ValueError(f"shot with seed {seed} has no candidate questions.")
        rng = np.random.default_rng([seed, 1])
        turns = int(rng.integers(1, max_turns + 1))
        pool = [items[i] for i in rng.permutation(len(items))]
        pool.sort(key=lambda qa: sum(counts[qa.type].values()))  # stable: random among equals
        chosen: list[QA] = []
        for qa in pool:
            if len(chosen) < turns and qa.type not in {c.type for c in chosen} and allowed(qa):
                chosen.append(qa)
                counts[qa.type][qa.answer] += 1
        if not chosen:  # all capped: the least over-represented answer
            qa = min(pool, key=lambda q: counts[q.type][q.answer] / (caps[q.type] * (sum(counts[q.type].values()) + 1)))
            chosen.append(qa)
            counts[qa.type][qa.answer] += 1
        chosen_all.append(chosen)
    return chosen_all


def conversation(video_path: str, items: list[QA], rng: np.random.Generator) -> list[dict]:
    """A chat: the video in the first user turn, one question per turn, short or full answers."""
    messages = []
    for k, qa in enumerate(items):
        content = ([{"type": "video", "path": video_path}] if k == 0 else []) + [{"type": "text", "text": qa.question}]
        answer = qa.sentence if rng.random() < 0.5 else qa.answer[0].upper() + qa.answer[1:] + "."
        messages.append({"role": "user", "content": content})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return messages


BALL_TYPES = ("pocketed_which", "first_hit", "farthest")  # their facts are tuples of ball numbers
_BALL_NAMES = {ball_name(n): n for n in range(16)}


def answer_fact(kind: str, answer: str):
    """The fact a short answer (`QA.answer`, as `candidate_questions` writes it) states, in a form
    answers can be compared by: a sorted tuple of ball numbers for `BALL_TYPES` (empty for "none"),
    the pocket or region name ("bottom-middle", "top-right"), a count (int; `cushion_count` 3 means
    three or more), or a bool for the yes/no types. The inverse of this module's own formatting; an
    answer it did not write raises ValueError."""
    text = answer.strip().lower()
    if kind in BALL_TYPES:
        if text == "none":
            return ()
        names = [part.removeprefix("the ") for part in text.replace(" and ", ", ").split(", ")]
        if not all(name in _BALL_NAMES for name in names):
            raise ValueError(f"{kind}: {answer!r} does not name balls the way candidate_questions does.")
        return tuple(sorted(_BALL_NAMES[name] for name in names))
    if kind == "pocketed_where" and text in POCKETS:
        return text
    if kind == "rest_region" and text.startswith("the ") and text.endswith(" area"):
        return text[4:-5]
    if kind in ("cue_pocketed", "touched") and text in ("yes", "no"):
        return text == "yes"
    if kind == "cushion_count" and text in ("zero", "one", "two", "three or more"):
        return ("zero", "one", "two", "three or more").index(text)
    if kind == "balls_remaining" and text in NUMBER_WORDS:
        return NUMBER_WORDS.index(text)
    raise ValueError(f"{answer!r} is not a short answer of question type {kind!r} (one of {QUESTION_TYPES}).")


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
    "ANSWER_CAPS", "BALL_TYPES", "QA", "QUESTION_TYPES", "ShotFacts", "answer_balance", "answer_fact",
    "candidate_questions", "caption", "choose_questions", "conversation", "region",
]  # fmt: skip
