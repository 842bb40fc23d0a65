"""Answers are scored on their fact: the ground truth comes from the data's short answers (checked
against the event log here), and free-form answers are read with tricky phrasings."""

import numpy as np
import pytest

from modeling_hilight.answer_matching import ball_mentions, match_answer, parse_fact
from modeling_hilight.training.billiards.physics import TABLE_LENGTH, TABLE_WIDTH, simulate
from modeling_hilight.training.billiards.text import QUESTION_TYPES, ShotFacts, answer_fact, candidate_questions


def named_balls(question: str, numbers) -> list[int]:
    from modeling_hilight.training.billiards.physics import ball_name

    found, text = [], question.lower()
    for n in sorted(numbers, key=lambda n: -len(ball_name(n))):
        if f"the {ball_name(n)}" in text:
            found.append((text.index(f"the {ball_name(n)}"), n))
            text = text.replace(f"the {ball_name(n)}", "#" * len(f"the {ball_name(n)}"))
    return [n for _, n in sorted(found)]


def test_answer_fact_is_the_event_log_fact():
    """answer_fact of every candidate's short answer equals the fact computed here from the raw log."""
    seen = set()
    for seed in range(60):
        sim = simulate(seed)
        log = sim.event_log()
        events, final = log["events"], log["final_positions"]
        pots = sorted(e["balls"][0] for e in events if e["kind"] == "pocket" and e["balls"][0] != 0)
        first = next((e["balls"] for e in events if e["kind"] == "collision" and 0 in e["balls"]), None)
        for qa in candidate_questions(ShotFacts(sim), np.random.default_rng(seed)):
            fact, named = answer_fact(qa.type, qa.answer), named_balls(qa.question, sim.numbers)
            seen.add(qa.type)
            expected = {
                "pocketed_which": lambda: tuple(pots),
                "first_hit": lambda: (max(first),) if first else (),
                "cue_pocketed": lambda: final["0"] is None,
                "balls_remaining": lambda: sum(v is not None for k, v in final.items() if k != "0"),
                "pocketed_where": lambda: next(e["detail"] for e in events if e["kind"] == "pocket"
                                               and e["balls"] == named),  # fmt: skip
                "touched": lambda: any(e["kind"] == "collision" and sorted(e["balls"]) == sorted(named) for e in events),
                "cushion_count": lambda: min(3, sum(e["kind"] == "cushion" and e["balls"] == named for e in events)),
                "rest_region": lambda: ("top" if final[str(named[0])][1] < TABLE_WIDTH / 2 else "bottom") + "-"
                + ("left", "middle", "right")[min(int(3 * final[str(named[0])][0] / TABLE_LENGTH), 2)],
            }
            if qa.type == "farthest":  # the longest path, summed here from the trajectory
                steps = np.nan_to_num(np.linalg.norm(np.diff(sim.trajectory, axis=0), axis=-1)).sum(0)
                assert fact == (sim.numbers[int(np.argmax(steps))],)
            else:
                assert fact == expected[qa.type](), (qa, fact)
            assert match_answer(qa.type, qa.answer, fact) and match_answer(qa.type, qa.sentence, fact), qa
    assert seen == set(QUESTION_TYPES)


def test_answer_fact_refuses_what_the_world_did_not_write():
    with pytest.raises(ValueError, match="'the pink 3'"):
        answer_fact("first_hit", "the pink 3")
    with pytest.raises(ValueError, match="question type 'touched'"):
        answer_fact("touched", "maybe")


BALLS = [
    ("first_hit", "The striped green 14.", (14,)), ("first_hit", "the green 14", (14,)), ("first_hit", "14", (14,)),
    ("first_hit", "The cue ball hit the striped green 14 first.", (14,)), ("first_hit", "Ball 14.", (14,)),
    ("first_hit", "the green 6", (6,)), ("first_hit", "The green ball.", (6,)), ("first_hit", "the striped green", (14,)),
    ("first_hit", "The cue ball did not hit any ball.", ()), ("first_hit", "none", ()), ("first_hit", "No ball.", ()),
    ("first_hit", "It missed.", ()), ("first_hit", "The cue ball.", (0,)), ("first_hit", "the red 14", None),
    ("first_hit", "the striped red 3", None), ("first_hit", "the solid green 14", None), ("first_hit", "", None),
    ("pocketed_which", "None.", ()), ("pocketed_which", "No ball was pocketed.", ()), ("pocketed_which", "Nothing.", ()),
    ("pocketed_which", "The red 3 and the striped blue 10.", (3, 10)),
    ("pocketed_which", "The red 3 went into the bottom-middle pocket, and the blue 2 into the top-left pocket.", (2, 3)),
    ("pocketed_which", "The cue ball sends the black 8 into the top-right pocket after 2 cushions.", (8,)),
    ("farthest", "The cue ball moved the farthest.", (0,)), ("farthest", "the white ball", (0,)),
    ("farthest", "The yellow 1 travelled the longest distance.", (1,)),
]  # fmt: skip
PLACES = [
    ("pocketed_where", "Bottom-middle.", "bottom-middle"), ("pocketed_where", "the bottom middle pocket", "bottom-middle"),
    ("pocketed_where", "The red 3 went into the bottom - middle pocket .", "bottom-middle"),
    ("pocketed_where", "The lower left corner pocket.", "bottom-left"), ("pocketed_where", "top centre", "top-middle"),
    ("pocketed_where", "The top-left or the top-right pocket.", None), ("pocketed_where", "A corner pocket.", None),
    ("rest_region", "The top-right area.", "top-right"),
    ("rest_region", "The red 3 stopped in the top-right area of the table.", "top-right"),
]  # fmt: skip
COUNTS = [
    ("cushion_count", "zero", 0), ("cushion_count", "0", 0), ("cushion_count", "No cushions.", 0),
    ("cushion_count", "The striped green 14 touched no cushions.", 0), ("cushion_count", "None.", 0),
    ("cushion_count", "The red 3 did not touch a cushion.", 0), ("cushion_count", "One.", 1),
    ("cushion_count", "The maroon 7 touched one cushion.", 1), ("cushion_count", "It hit a cushion once.", 1),
    ("cushion_count", "twice", 2), ("cushion_count", "The striped red 11 touched 2 cushions.", 2),
    ("cushion_count", "Three or more.", 3), ("cushion_count", "five cushions", 3), ("cushion_count", "one or two", None),
    ("cushion_count", "The red 3.", None),
    ("balls_remaining", "Seven object balls are left on the table.", 7), ("balls_remaining", "7", 7),
    ("balls_remaining", "Zero.", 0), ("balls_remaining", "No balls remain.", 0), ("balls_remaining", "Eleven.", 11),
    ("balls_remaining", "One object ball is left on the table.", 1), ("balls_remaining", "four or five", None),
]  # fmt: skip
YES_NO = [
    ("touched", "Yes.", True), ("touched", "No.", False), ("touched", "no", False),
    ("touched", "Yes, the maroon 7 and the red 3 touched.", True),
    ("touched", "No, the maroon 7 and the red 3 did not touch.", False),
    ("touched", "They didn't touch.", False), ("touched", "They did touch, yes.", True),
    ("touched", "The red 3 collided with the blue 2.", True), ("touched", "The red 3.", None), ("touched", "", None),
    ("cue_pocketed", "No, the cue ball stayed on the table.", False),
    ("cue_pocketed", "Yes, the cue ball went into the top-left pocket.", True),
    ("cue_pocketed", "The cue ball was pocketed.", True), ("cue_pocketed", "The cue ball was not pocketed.", False),
    ("cue_pocketed", "The cue ball went into no pocket.", False),
]  # fmt: skip


@pytest.mark.parametrize("kind, text, fact", BALLS + PLACES + COUNTS + YES_NO)
def test_tricky_phrasings(kind, text, fact):
    assert parse_fact(kind, text) == fact
    if fact is not None:
        assert match_answer(kind, text, fact)
        assert match_answer(kind, text.upper(), fact)  # case does not matter


def test_a_wrong_or_unreadable_answer_never_matches():
    assert not match_answer("first_hit", "the green 6", (14,))
    assert not match_answer("pocketed_which", "the red 3", (3, 10))  # half of the set is not the set
    assert not match_answer("pocketed_which", "the red 3 and the striped blue 10 and the black 8", (3, 10))
    assert not match_answer("cushion_count", "one or two", 1) and not match_answer("cushion_count", "one or two", None)
    assert not match_answer("touched", "maybe", False) and not match_answer("touched", "maybe", True)
    assert not match_answer("first_hit", "none", (3,)) and not match_answer("first_hit", "the red 3", ())


def test_ball_mentions_in_order_and_unknown_type():
    assert ball_mentions("The cue ball sends the striped maroon 15 and the yellow 1 in") == [0, 15, 1]
    with pytest.raises(ValueError, match="unknown question type 'colour'"):
        parse_fact("colour", "red")
