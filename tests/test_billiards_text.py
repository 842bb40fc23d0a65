"""Captions and answers agree with the event log, computed again here; answers are balanced."""

import numpy as np
import pytest

from modeling_hilight.training.billiards.physics import ball_name, simulate
from modeling_hilight.training.billiards.text import (
    QUESTION_TYPES, ShotFacts, answer_balance, candidate_questions, caption, conversation,
)  # fmt: skip


@pytest.fixture(scope="module")
def shots():
    return [simulate(seed) for seed in range(60)]


def test_answers_follow_from_the_event_log(shots):
    seen = set()
    for sim in shots:
        facts = ShotFacts(sim)
        events = sim.event_log()["events"]
        pockets = [(e["balls"][0], e["detail"]) for e in events if e["kind"] == "pocket" and e["balls"][0] != 0]
        first = next((e["balls"] for e in events if e["kind"] == "collision" and 0 in e["balls"]), None)
        last = sim.trajectory[-1]
        remaining = sum(1 for i, n in enumerate(sim.numbers) if n != 0 and not np.isnan(last[i, 0]))
        for qa in candidate_questions(facts, np.random.default_rng(sim.seed)):
            seen.add(qa.type)
            if qa.type == "pocketed_which":
                assert qa.answer == (f"the {ball_name(pockets[0][0])}" if pockets else "none")
            elif qa.type == "pocketed_where":
                assert qa.answer == pockets[0][1] and ball_name(pockets[0][0]) in qa.question
            elif qa.type == "first_hit":
                assert qa.answer == f"the {ball_name(max(first))}"
            elif qa.type == "cue_pocketed":
                assert (qa.answer == "yes") == any(e["kind"] == "pocket" and e["balls"] == [0] for e in events)
            elif qa.type == "balls_remaining":
                assert qa.answer == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                     "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen"][remaining]
            elif qa.type == "touched":
                names = [n for n in sim.numbers if f"the {ball_name(n)} " in qa.question + " "
                         or f"the {ball_name(n)}?" in qa.question]  # fmt: skip
                pair = tuple(sorted(names[-2:])) if len(names) >= 2 else None
                touched = any(e["kind"] == "collision" and tuple(sorted(e["balls"])) == pair for e in events)
                assert (qa.answer == "yes") == touched, qa
            elif qa.type == "cushion_count":
                ball = next(n for n in sorted(sim.numbers, key=lambda n: -len(ball_name(n)))
                            if f"the {ball_name(n)} " in qa.question)  # fmt: skip
                count = sum(1 for e in events if e["kind"] == "cushion" and e["balls"] == [ball])
                assert qa.answer == {0: "zero", 1: "one", 2: "two"}.get(count, "three or more")
    assert seen == set(QUESTION_TYPES)


def test_captions_name_what_happened(shots):
    for sim in shots[:20]:
        facts = ShotFacts(sim)
        text = caption(facts, np.random.default_rng(0))
        if facts.first_hit is not None:
            assert ball_name(facts.first_hit) in text
        for ball, pocket in facts.object_pockets:
            assert f"{ball_name(ball)}" in text and f"the {pocket} pocket" in text
        assert text[0].isupper() and text.endswith(".")


def test_conversations_put_the_video_in_the_first_user_turn(shots):
    items = candidate_questions(ShotFacts(shots[0]), np.random.default_rng(0))[:3]
    messages = conversation("clips/a.mp4", items, np.random.default_rng(1))
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[0]["content"][0] == {"type": "video", "path": "clips/a.mp4"}
    assert all(b["type"] == "text" for m in messages[1:] for b in m["content"])
    for qa, answer in zip(items, messages[1::2]):
        assert answer["content"][0]["text"] in (qa.answer, qa.sentence)


def test_answering_without_the_video_does_poorly():
    items = [qa for seed in range(200) for qa in candidate_questions(ShotFacts(simulate(seed)),
                                                                     np.random.default_rng(seed))]  # fmt: skip
    report = answer_balance(items)
    assert set(report) == set(QUESTION_TYPES)
    for kind, row in report.items():
        # yes/no types sit near 0.5 (about 40 cue-ball questions here: +-0.08 by chance); the rest far below
        limit = 0.62 if row["distinct"] == 2 else 0.5
        assert row["majority_accuracy"] <= limit, (kind, row)
