"""Captions and answers agree with the event log, computed again here; asked answers are balanced."""

import math
from collections import Counter

import numpy as np
import pytest

from modeling_hilight.training.billiards.physics import TABLE_LENGTH, TABLE_WIDTH, ball_name, simulate
from modeling_hilight.training.billiards.text import (
    ANSWER_CAPS, QA, QUESTION_TYPES, ShotFacts, answer_balance, candidate_questions, caption, choose_questions,
    conversation,
)  # fmt: skip

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen"]  # fmt: skip


@pytest.fixture(scope="module")
def shots():
    return [simulate(seed) for seed in range(120)]


def _named(question: str, numbers: list[int]) -> list[int]:
    """Balls named in a question, longest names first so "red 3" does not match "striped red 11"."""
    found, text = [], question.lower()
    for n in sorted(numbers, key=lambda n: -len(ball_name(n))):
        if f"the {ball_name(n)}" in text:
            found.append((text.index(f"the {ball_name(n)}"), n))
            text = text.replace(f"the {ball_name(n)}", "#" * len(f"the {ball_name(n)}"))
    return [n for _, n in sorted(found)]


def test_answers_follow_from_the_event_log(shots):
    seen = Counter()
    for sim in shots:
        log = sim.event_log()
        events = log["events"]
        pots = [(e["balls"][0], e["detail"]) for e in events if e["kind"] == "pocket" and e["balls"][0] != 0]
        first = next((e["balls"] for e in events if e["kind"] == "collision" and 0 in e["balls"]), None)
        final = log["final_positions"]
        paths = np.nan_to_num(np.abs(np.diff(sim.trajectory, axis=0))).sum(0)  # not the same formula as text.py
        for qa in candidate_questions(ShotFacts(sim), np.random.default_rng(sim.seed)):
            seen[qa.type] += 1
            named = _named(qa.question, sim.numbers)
            if qa.type == "pocketed_which":
                names = [f"the {ball_name(b)}" for b, _ in pots]
                expected = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else (names or ["none"])[0]
                assert qa.answer == expected
                for b, p in pots:
                    assert f"{ball_name(b)} " in qa.sentence and f"the {p} pocket" in qa.sentence
            elif qa.type == "pocketed_where":
                assert (named[0], qa.answer) in pots
            elif qa.type == "first_hit":
                assert qa.answer == (f"the {ball_name(max(first))}" if first else "none")
            elif qa.type == "cue_pocketed":
                assert (qa.answer == "yes") == (final["0"] is None)
            elif qa.type == "balls_remaining":
                assert qa.answer == WORDS[sum(v is not None for k, v in final.items() if k != "0")]
            elif qa.type == "touched":
                touched = any(e["kind"] == "collision" and sorted(e["balls"]) == sorted(named) for e in events)
                assert len(named) == 2 and (qa.answer == "yes") == touched, qa
            elif qa.type == "cushion_count":
                count = sum(1 for e in events if e["kind"] == "cushion" and e["balls"] == named)
                assert qa.answer == {0: "zero", 1: "one", 2: "two"}.get(count, "three or more")
            elif qa.type == "rest_region":
                x, y = final[str(named[0])]
                vertical = "top" if y < TABLE_WIDTH / 2 else "bottom"
                horizontal = "left" if x < TABLE_LENGTH / 3 else "middle" if x < 2 * TABLE_LENGTH / 3 else "right"
                assert qa.answer == f"the {vertical}-{horizontal} area"
            elif qa.type == "farthest":
                distance = {n: np.hypot(*paths[i].T) for i, n in enumerate(sim.numbers)}
                farthest = qa.answer.removeprefix("the ")
                best = max(distance.values())
                assert any(ball_name(n) == farthest and math.isclose(d, best, rel_tol=0.2)
                           for n, d in distance.items())  # fmt: skip
    assert set(seen) == set(QUESTION_TYPES)


def test_captions_name_what_happened(shots):
    for sim in shots[:30]:
        facts = ShotFacts(sim)
        for k in range(3):
            text = caption(facts, np.random.default_rng(k))
            if facts.first_hit is not None:
                assert ball_name(facts.first_hit) in text
            for ball, pocket in facts.object_pockets:
                assert f"the {pocket} pocket" in text
            if not facts.object_pockets:
                assert any(p in text for p in ("no ball is pocketed", "nothing goes down", "stays on the table"))
            assert text[0].isupper() and text.endswith(".")
    assert len({caption(ShotFacts(shots[0]), np.random.default_rng(k)) for k in range(10)}) >= 3  # varied


def test_conversations_put_the_video_in_the_first_user_turn(shots):
    items = candidate_questions(ShotFacts(shots[0]), np.random.default_rng(0))[:3]
    messages = conversation("clips/a.mp4", items, np.random.default_rng(1))
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[0]["content"][0] == {"type": "video", "path": "clips/a.mp4"}
    assert all(b["type"] == "text" for m in messages[1:] for b in m["content"])
    for qa, answer in zip(items, messages[1::2]):
        assert answer["content"][0]["text"] in (qa.sentence, qa.answer[0].upper() + qa.answer[1:] + ".")


def test_choose_questions_caps_every_answer_and_asks_every_type(shots):
    candidates = [candidate_questions(ShotFacts(s), np.random.default_rng(s.seed)) for s in shots]
    raw = answer_balance([qa for items in candidates for qa in items])
    chosen = choose_questions(candidates, [s.seed for s in shots], max_turns=3)
    assert chosen == choose_questions(candidates, [s.seed for s in shots], max_turns=3)  # deterministic
    for items, asked in zip(candidates, chosen):
        assert 1 <= len(asked) <= 3 and all(qa in items for qa in asked)
        assert len({qa.type for qa in asked}) == len(asked)  # one question per type per conversation
    asked = [qa for items in chosen for qa in items]
    report = answer_balance(asked)
    assert set(report) == set(QUESTION_TYPES)
    for kind, row in report.items():
        # the majority share, counted here from the asked answers, stays within cap + one answer
        answers = Counter(qa.answer for qa in asked if qa.type == kind)
        assert row["majority_accuracy"] == pytest.approx(max(answers.values()) / sum(answers.values()), abs=1e-3)
        assert max(answers.values()) <= ANSWER_CAPS[kind] * sum(answers.values()) + 2, (kind, answers)
    # the unbalanced candidates are much easier to guess for these types
    for kind in ("cue_pocketed", "cushion_count", "farthest"):
        assert raw[kind]["majority_accuracy"] > report[kind]["majority_accuracy"] + 0.15, kind


def test_answer_balance_counts_by_hand():
    items = [QA("touched", "q", a, "s") for a in ("yes", "no", "no", "no")] + [QA("farthest", "q", "the red 3", "s")]
    report = answer_balance(items)
    assert report["touched"] == {"count": 4, "distinct": 2, "majority_answer": "no", "majority_accuracy": 0.75}
    assert report["farthest"]["majority_accuracy"] == 1.0 and set(report) == {"touched", "farthest"}


def test_a_shot_without_candidates_is_refused():
    with pytest.raises(ValueError, match="seed 7 has no candidate questions"):
        choose_questions([[]], [7])
