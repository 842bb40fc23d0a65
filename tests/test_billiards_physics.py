"""The billiards simulator's invariants."""

import json

import numpy as np
import pytest

from modeling_hilight.training.billiards.physics import BALL_RADIUS, POCKETS, TABLE_LENGTH, TABLE_WIDTH, simulate

SEEDS = range(12)


@pytest.fixture(scope="module")
def shots():
    return [simulate(seed) for seed in SEEDS]


def test_no_two_balls_overlap_beyond_a_small_tolerance(shots):
    for sim in shots:
        for frame in sim.trajectory:
            live = frame[~np.isnan(frame[:, 0])]
            d = np.linalg.norm(live[:, None] - live[None], axis=-1) + np.eye(len(live)) * 9
            assert d.min() > 2 * BALL_RADIUS * 0.9, sim.seed  # at most 10 % of a radius of overlap


def test_kinetic_energy_never_rises(shots):
    for sim in shots:
        assert (np.diff(sim.kinetic_energy) <= 1e-12).all(), sim.seed
        assert sim.kinetic_energy[-1] == 0


def test_balls_stay_on_the_table_and_pocketed_balls_leave_it(shots):
    pocketed_any = False
    for sim in shots:
        live = sim.trajectory[~np.isnan(sim.trajectory[..., 0])]
        assert live[:, 0].min() >= BALL_RADIUS - 1e-9 and live[:, 0].max() <= TABLE_LENGTH - BALL_RADIUS + 1e-9
        assert live[:, 1].min() >= BALL_RADIUS - 1e-9 and live[:, 1].max() <= TABLE_WIDTH - BALL_RADIUS + 1e-9
        for event in (e for e in sim.events if e.kind == "pocket"):
            pocketed_any = True
            i = sim.numbers.index(event.balls[0])
            step = int(np.searchsorted(sim.times, event.time))
            assert np.isnan(sim.trajectory[step:, i]).all()  # gone from then on
            assert sim.final_positions[event.balls[0]] is None
            x, y, _ = POCKETS[event.detail]
            before = sim.trajectory[step - 1, i]
            assert np.hypot(before[0] - x, before[1] - y) < 0.15  # it was at that pocket
    assert pocketed_any


def test_event_log_is_complete_and_the_same_for_the_same_seed():
    a, b = simulate(5), simulate(5)
    assert json.dumps(a.event_log()) == json.dumps(b.event_log())
    assert np.array_equal(a.trajectory, b.trajectory, equal_nan=True)
    assert json.dumps(simulate(6).event_log()) != json.dumps(a.event_log())
    log = a.event_log()
    kinds = [e["kind"] for e in log["events"]]
    assert kinds[0] == "strike" and kinds[-1] == "stop" and log["stop_time"] == log["events"][-1]["time"]
    times = [e["time"] for e in log["events"]]
    assert times == sorted(times)
    assert set(log["final_positions"]) == {str(n) for n in log["balls"]}


def test_collisions_are_logged_when_balls_meet():
    for sim in (simulate(s) for s in SEEDS):
        for e in (e for e in sim.events if e.kind == "collision"):
            step = int(np.searchsorted(sim.times, e.time))
            i, j = (sim.numbers.index(b) for b in e.balls)
            d = np.linalg.norm(sim.trajectory[step - 1, i] - sim.trajectory[step - 1, j])
            assert d < 2 * BALL_RADIUS + 0.03  # touching (within one step of travel)
