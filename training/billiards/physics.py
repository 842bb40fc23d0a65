"""A seeded pool table whose every event is known.

Units are metres and seconds on a 2.0 x 1.0 table (a small pool table). Balls slide with constant
rolling deceleration, collide elastically with a little restitution loss, rebound off cushions and
drop into six pockets. The simulation steps at a fixed small time step with sub-steps, so it is
deterministic for a seed and kinetic energy never rises (every interaction removes some).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

TABLE_LENGTH, TABLE_WIDTH = 2.0, 1.0
BALL_RADIUS = 0.0285
POCKET_RADIUS = {"corner": 0.075, "middle": 0.062}
POCKETS = {  # name -> (x, y, kind); y grows towards the bottom of the rendered image
    "top-left": (0.0, 0.0, "corner"),
    "top-middle": (TABLE_LENGTH / 2, -0.01, "middle"),
    "top-right": (TABLE_LENGTH, 0.0, "corner"),
    "bottom-left": (0.0, TABLE_WIDTH, "corner"),
    "bottom-middle": (TABLE_LENGTH / 2, TABLE_WIDTH + 0.01, "middle"),
    "bottom-right": (TABLE_LENGTH, TABLE_WIDTH, "corner"),
}
DECELERATION = 0.45  # m/s^2, rolling resistance
BALL_RESTITUTION = 0.94
CUSHION_RESTITUTION = 0.8
STOP_SPEED = 0.01
DT = 1.0 / 240.0

# 0 is the cue ball; 1-7 solids, 8 the black, 9-15 stripes of the colours of 1-7.
BALL_COLOURS = {
    0: ("white", (245, 245, 240)), 1: ("yellow", (250, 200, 20)), 2: ("blue", (30, 70, 200)),
    3: ("red", (210, 30, 30)), 4: ("purple", (110, 40, 150)), 5: ("orange", (245, 120, 20)),
    6: ("green", (20, 140, 60)), 7: ("maroon", (120, 20, 30)), 8: ("black", (20, 20, 20)),
}  # fmt: skip
for _n in range(9, 16):
    BALL_COLOURS[_n] = BALL_COLOURS[_n - 8]


def ball_name(number: int) -> str:
    """`cue ball`, `red 3`, `striped red 11`."""
    if number == 0:
        return "cue ball"
    colour = BALL_COLOURS[number][0]
    return f"striped {colour} {number}" if number >= 9 else f"{colour} {number}"


@dataclass
class Event:
    time: float
    kind: str  # strike | collision | cushion | pocket | stop
    balls: list[int]
    detail: str = ""


@dataclass
class Simulation:
    """Initial layout, the strike, the event log and the trajectory (positions at every step)."""

    seed: int
    numbers: list[int]
    initial: np.ndarray  # [N, 2]
    strike_angle: float
    strike_speed: float
    events: list[Event] = field(default_factory=list)
    trajectory: np.ndarray | None = None  # [steps, N, 2], NaN once pocketed
    times: np.ndarray | None = None
    stop_time: float = 0.0
    kinetic_energy: np.ndarray | None = None  # [steps]

    @property
    def final_positions(self) -> dict[int, tuple[float, float] | None]:
        last = self.trajectory[-1]
        return {n: (None if np.isnan(last[i, 0]) else (float(last[i, 0]), float(last[i, 1])))
                for i, n in enumerate(self.numbers)}  # fmt: skip

    def event_log(self) -> dict:
        """JSON-ready: strike, every collision, cushion and pocket, final positions, stop time."""
        return {
            "seed": self.seed,
            "balls": self.numbers,
            "strike": {"ball": 0, "angle": self.strike_angle, "speed": self.strike_speed},
            "events": [asdict(e) for e in self.events],
            "final_positions": {str(k): v for k, v in self.final_positions.items()},
            "stop_time": self.stop_time,
        }


POCKET_NAMES = list(POCKETS)
POCKET_XY = np.array([[x, y] for x, y, _ in POCKETS.values()])
POCKET_R = np.array([POCKET_RADIUS[kind] for _, _, kind in POCKETS.values()])
LOW, HIGH = np.array([BALL_RADIUS, BALL_RADIUS]), np.array([TABLE_LENGTH - BALL_RADIUS, TABLE_WIDTH - BALL_RADIUS])
SIDES = (("left", "right"), ("top", "bottom"))


def random_layout(rng: np.random.Generator, num_object_balls: int) -> tuple[list[int], np.ndarray]:
    """Cue ball plus `num_object_balls` distinct numbered balls at non-overlapping positions."""
    numbers = [0] + sorted(rng.choice(np.arange(1, 16), size=num_object_balls, replace=False).tolist())
    margin = BALL_RADIUS * 3
    positions: list[np.ndarray] = []
    while len(positions) < len(numbers):
        p = np.array([rng.uniform(margin, TABLE_LENGTH - margin), rng.uniform(margin, TABLE_WIDTH - margin)])
        pocket_clear = all(math.dist(p, q[:2]) > 0.2 for q in POCKETS.values())
        if pocket_clear and all(np.linalg.norm(p - q) > 4 * BALL_RADIUS for q in positions):
            positions.append(p)
    return numbers, np.array(positions)


def aim(rng: np.random.Generator, positions: np.ndarray) -> float:
    """Mostly a pocket shot: the cue ball aims at the "ghost ball" spot that sends a random object
    ball towards a random pocket (a little noise keeps some misses); otherwise a plain hit on a
    ball, or anywhere."""
    choice = rng.random()
    if len(positions) > 1 and choice < 0.9:
        target = positions[rng.integers(1, len(positions))]
        if choice < 0.7:
            # a pocket the target can be cut into (cut angle under 50 degrees), chosen at random
            shot = (target - positions[0]) / np.linalg.norm(target - positions[0])
            to_pockets = (POCKET_XY - target) / np.linalg.norm(POCKET_XY - target, axis=1, keepdims=True)
            feasible = np.flatnonzero(to_pockets @ shot > math.cos(math.radians(50)))
            if len(feasible):
                direction = to_pockets[rng.choice(feasible)]
                target = target - 2 * BALL_RADIUS * direction  # the ghost ball
        d = target - positions[0]
        return float(math.atan2(d[1], d[0]) + rng.normal(0, 0.01))
    return float(rng.uniform(-math.pi, math.pi))


def simulate(seed: int, num_object_balls: int | None = None, max_time: float = 8.0) -> Simulation:
    """Lay out, strike and run one shot until every ball stops (or `max_time`)."""
    rng = np.random.default_rng(seed)
    if num_object_balls is None:
        num_object_balls = int(rng.integers(1, 16))
    numbers, pos = random_layout(rng, num_object_balls)
    angle, speed = aim(rng, pos), float(rng.uniform(1.2, 3.2))
    sim = Simulation(seed, numbers, pos.copy(), angle, speed)
    vel = np.zeros_like(pos)
    vel[0] = speed * np.array([math.cos(angle), math.sin(angle)])
    on_table = np.ones(len(numbers), bool)
    sim.events.append(Event(0.0, "strike", [0], f"angle {angle:.3f} rad, speed {speed:.2f} m/s"))
    touching: set[tuple[int, int]] = set()
    frames, times, energies = [pos.copy()], [0.0], [0.5 * float((vel**2).sum())]
    t, steps = 0.0, int(max_time / DT)
    for _ in range(steps):
        t += DT
        # rolling resistance: speed falls by DECELERATION * DT, never below zero
        speeds = np.linalg.norm(vel, axis=1)
        factor = np.where(speeds > 0, np.maximum(speeds - DECELERATION * DT, 0) / np.maximum(speeds, 1e-12), 0)
        vel *= factor[:, None]
        vel[speeds < STOP_SPEED] = 0
        pos += vel * DT
        _collide(sim, pos, vel, on_table, touching, t)
        _cushions_and_pockets(sim, pos, vel, on_table, t)
        frames.append(np.where(on_table[:, None], pos, np.nan))
        times.append(t)
        energies.append(0.5 * float((vel[on_table] ** 2).sum()))
        if not vel[on_table].any():
            break
    sim.stop_time = t
    sim.events.append(Event(t, "stop", [], "all balls at rest"))
    sim.trajectory, sim.times, sim.kinetic_energy = np.array(frames), np.array(times), np.array(energies)
    return sim


def _collide(sim, pos, vel, on_table, touching, t):
    """Equal-mass collisions with restitution; overlap is removed by moving the balls apart."""
    idx = np.flatnonzero(on_table)
    if len(idx) < 2:
        return
    diff = pos[idx][:, None, :] - pos[idx][None, :, :]
    dist = np.linalg.norm(diff, axis=-1)
    close_i, close_j = np.nonzero(np.triu(dist < 2 * BALL_RADIUS, 1))
    now_touching = set()
    for a, b in zip(idx[close_i], idx[close_j]):
        normal = pos[a] - pos[b]
        d = float(np.linalg.norm(normal))
        normal = normal / d if d > 1e-12 else np.array([1.0, 0.0])
        approach = float(np.dot(vel[a] - vel[b], normal))
        if approach < 0:  # moving towards each other: exchange normal momentum
            va, vb = float(np.dot(vel[a], normal)), float(np.dot(vel[b], normal))
            e = BALL_RESTITUTION
            new_a, new_b = ((1 - e) * va + (1 + e) * vb) / 2, ((1 + e) * va + (1 - e) * vb) / 2
            vel[a] += (new_a - va) * normal
            vel[b] += (new_b - vb) * normal
        overlap = 2 * BALL_RADIUS - d
        pos[a] += normal * overlap / 2
        pos[b] -= normal * overlap / 2
        pair = (sim.numbers[min(a, b)], sim.numbers[max(a, b)])
        now_touching.add(pair)
        if pair not in touching and approach < 0:
            sim.events.append(Event(t, "collision", list(pair)))
    touching.clear()
    touching.update(now_touching)


def _cushions_and_pockets(sim, pos, vel, on_table, t):
    """A ball whose centre enters a pocket's circle drops; otherwise a ball past a cushion line and
    moving outwards is mirrored back with the cushion's restitution."""
    inside = (np.linalg.norm(pos[:, None, :] - POCKET_XY[None], axis=-1) < POCKET_R) & on_table[:, None]
    for i in np.flatnonzero(inside.any(axis=1)):
        on_table[i] = False
        vel[i] = 0
        sim.events.append(Event(t, "pocket", [sim.numbers[i]], POCKET_NAMES[int(np.argmax(inside[i]))]))
    for bound, outward, side in ((LOW, -1, 0), (HIGH, 1, 1)):
        hit = (outward * (pos - bound) > 0) & (outward * vel > 0) & on_table[:, None]
        for i, axis in zip(*np.nonzero(hit)):
            pos[i, axis] = 2 * bound[axis] - pos[i, axis]
            vel[i, axis] *= -CUSHION_RESTITUTION
            sim.events.append(Event(t, "cushion", [sim.numbers[i]], SIDES[axis][side]))


__all__ = ["BALL_COLOURS", "BALL_RADIUS", "POCKETS", "Event", "Simulation", "ball_name", "simulate"]
