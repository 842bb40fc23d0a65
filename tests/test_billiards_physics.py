"""The billiards simulator: invariants over random shots, and simple shots against hand computation."""

import json
import math

import numpy as np
import pytest

from modeling_hilight.training.billiards.physics import (
    BALL_RADIUS, BALL_RESTITUTION, CUSHION_RESTITUTION, DECELERATION, DT, POCKETS, TABLE_LENGTH, TABLE_WIDTH,
    ShotConfig, run_shot, simulate,
)  # fmt: skip

SEEDS = range(16)


@pytest.fixture(scope="module")
def shots():
    return [simulate(seed) for seed in SEEDS]


def _step(time: float) -> int:
    return int(round(time / DT))


def test_no_two_balls_overlap_beyond_a_small_tolerance(shots):
    for sim in shots:
        for frame in sim.trajectory:
            live = frame[~np.isnan(frame[:, 0])]
            if len(live) < 2:
                continue
            d = np.linalg.norm(live[:, None] - live[None], axis=-1) + np.eye(len(live)) * 9
            assert d.min() > 2 * BALL_RADIUS * 0.99, sim.seed  # at most 1 % of a diameter


def test_kinetic_energy_never_rises_and_ends_at_zero(shots):
    for sim in shots:
        assert (np.diff(sim.kinetic_energy) <= 1e-12).all(), sim.seed
        assert sim.kinetic_energy[0] == pytest.approx(0.5 * sim.strike_speed**2)
        assert sim.kinetic_energy[-1] == 0


def test_balls_stay_on_the_table_and_pocketed_balls_leave_it(shots):
    pocketed = 0
    for sim in shots:
        live = sim.trajectory[~np.isnan(sim.trajectory[..., 0])]
        assert live[:, 0].min() >= BALL_RADIUS - 1e-9 and live[:, 0].max() <= TABLE_LENGTH - BALL_RADIUS + 1e-9
        assert live[:, 1].min() >= BALL_RADIUS - 1e-9 and live[:, 1].max() <= TABLE_WIDTH - BALL_RADIUS + 1e-9
        for event in (e for e in sim.events if e.kind == "pocket"):
            pocketed += 1
            i, step = sim.numbers.index(event.balls[0]), _step(event.time)
            assert np.isnan(sim.trajectory[step:, i]).all()  # gone from then on
            assert not np.isnan(sim.trajectory[step - 1, i]).any()  # and on the table just before
            assert sim.final_positions[event.balls[0]] is None
            x, y, _ = POCKETS[event.detail]
            before = sim.trajectory[step - 1, i]
            assert np.hypot(before[0] - x, before[1] - y) < 0.1  # it was at that pocket's mouth
    assert pocketed >= 4  # aimed shots pot balls often


def test_event_log_is_complete_and_the_same_for_the_same_seed():
    a, b = simulate(5), simulate(5)
    assert json.dumps(a.event_log()) == json.dumps(b.event_log())
    assert np.array_equal(a.trajectory, b.trajectory, equal_nan=True)
    assert json.dumps(simulate(6).event_log()) != json.dumps(a.event_log())
    log = json.loads(json.dumps(a.event_log()))  # plain JSON
    kinds = [e["kind"] for e in log["events"]]
    assert kinds[0] == "strike" and kinds[-1] == "stop" and log["stop_time"] == log["events"][-1]["time"]
    times = [e["time"] for e in log["events"]]
    assert times == sorted(times)
    assert set(log["final_positions"]) == set(log["initial_positions"]) == {str(n) for n in log["balls"]}
    assert log["final_positions"]["0"] == (None if np.isnan(a.trajectory[-1, 0, 0]) else a.trajectory[-1, 0].tolist())


def test_collisions_are_logged_when_balls_meet(shots):
    for sim in shots:
        for e in (e for e in sim.events if e.kind == "collision"):
            step = _step(e.time)
            i, j = (sim.numbers.index(b) for b in e.balls)
            d = np.linalg.norm(sim.trajectory[step, i] - sim.trajectory[step, j])
            assert d < 2 * BALL_RADIUS + 0.04  # touching, within a step of travel either side


def test_a_lone_ball_rolls_the_distance_of_constant_deceleration():
    # cue ball on the long axis, no other ball in its way: s = v^2 / (2 a), t = v / a
    sim = run_shot([0, 1], [[0.3, 0.5], [1.9, 0.9]], angle=0.0, speed=1.2)
    travelled = sim.trajectory[-1, 0, 0] - 0.3
    assert travelled == pytest.approx(1.2**2 / (2 * DECELERATION), abs=0.01)
    assert sim.stop_time == pytest.approx(1.2 / DECELERATION, abs=0.05)
    assert [e.kind for e in sim.events] == ["strike", "stop"]


def test_head_on_collision_passes_on_the_speed_with_restitution():
    # cue ball hits a resting ball full on; after contact: v_cue = v(1-e)/2, v_ball = v(1+e)/2
    speed, gap = 2.0, 0.5
    sim = run_shot([0, 3], [[0.5, 0.5], [0.5 + gap + 2 * BALL_RADIUS, 0.5]], angle=0.0, speed=speed)
    contact = next(e for e in sim.events if e.kind == "collision")
    assert contact.balls == [0, 3]
    v_contact = math.sqrt(speed**2 - 2 * DECELERATION * gap)
    assert contact.time == pytest.approx((speed - v_contact) / DECELERATION, abs=DT)
    v3 = v_contact * (1 + BALL_RESTITUTION) / 2
    cushion = next(e for e in sim.events if e.kind == "cushion")
    assert cushion.balls == [3] and cushion.detail == "right"
    # the 3 rolls to the right cushion; check its speed from its positions just after contact
    k = _step(contact.time) + 2
    measured = (sim.trajectory[k + 1, 1, 0] - sim.trajectory[k, 1, 0]) / DT
    assert measured == pytest.approx(v3 - DECELERATION * (k + 1 - contact.time / DT) * DT, abs=0.02)
    assert abs(sim.trajectory[-1, 1, 1] - 0.5) < 1e-9  # straight along the line of centres


def test_cut_shot_sends_the_object_ball_along_the_line_of_centres():
    # contact with the object ball's centre 45 degrees off the cue ball's path
    offset = 2 * BALL_RADIUS / math.sqrt(2)
    sim = run_shot([0, 5], [[0.5, 0.5], [1.0, 0.5 + offset]], angle=0.0, speed=2.0)
    contact = _step(next(e.time for e in sim.events if e.kind == "collision"))
    direction = sim.trajectory[contact + 40, 1] - sim.trajectory[0, 1]  # before it reaches a cushion
    assert math.degrees(math.atan2(direction[1], direction[0])) == pytest.approx(45.0, abs=1.0)


def test_cushion_rebound_mirrors_the_path_with_restitution():
    sim = run_shot([0, 1], [[0.5, 0.5], [0.2, 0.9]], angle=-math.pi / 2, speed=2.0)  # straight up
    hit = next(e for e in sim.events if e.kind == "cushion")
    assert hit.balls == [0] and hit.detail == "top"
    k = _step(hit.time)
    v_in = 2.0 - DECELERATION * hit.time
    v_out = (sim.trajectory[k + 6, 0, 1] - sim.trajectory[k + 5, 0, 1]) / DT
    assert v_out == pytest.approx(CUSHION_RESTITUTION * v_in - DECELERATION * 6 * DT, abs=0.02)


def test_an_aimed_ball_drops_into_its_corner_pocket():
    # object ball on the diagonal towards the top-left pocket, cue ball straight behind it
    sim = run_shot([0, 8], [[0.6, 0.6], [0.3, 0.3]], angle=-3 * math.pi / 4, speed=2.5)
    pockets = [(e.balls, e.detail) for e in sim.events if e.kind == "pocket"]
    assert pockets[0] == ([8], "top-left")
    assert sim.final_positions[8] is None and sim.final_positions[0] is not None


def test_shot_config_varies_the_ball_count_and_refuses_bad_ranges():
    counts = {len(simulate(s, config=ShotConfig(min_balls=2, max_balls=4)).numbers) - 1 for s in range(30)}
    assert counts == {2, 3, 4}
    with pytest.raises(ValueError, match="min_balls <= max_balls <= 15, got 3..16"):
        ShotConfig(min_balls=3, max_balls=16)
    with pytest.raises(ValueError, match="the first ball must be the cue ball"):
        run_shot([1, 0], [[0.5, 0.5], [1, 0.5]], 0.0, 1.0)
