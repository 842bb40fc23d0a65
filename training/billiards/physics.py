"""A seeded pool table whose every event is known.

Units are metres and seconds on a 2.0 x 1.0 table (a small pool table); y grows towards the
bottom of the rendered image. Balls slow down at a constant rolling deceleration, collide
elastically with a little restitution loss, rebound off cushions and drop into six pockets.

The simulation steps at a fixed 1/240 s. Within a step it is exact where it matters: a ball pair
found overlapping is moved back to the moment of contact, the impulse is applied along the true
line of centres, and the pair moves on for the rest of the step; a ball past a cushion line is
mirrored back. So cut angles are right (aimed shots go where they were aimed), the whole run is
deterministic for a seed, and kinetic energy never rises (every interaction removes some).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

TABLE_LENGTH, TABLE_WIDTH = 2.0, 1.0
BALL_RADIUS = 0.0285
POCKET_RADIUS = {"corner": 0.075, "middle": 0.062}
POCKETS = {  # name -> (x, y, kind)
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
STOP_SPEED = 0.01  # m/s; slower balls stop
DT = 1.0 / 240.0
MAX_STRIKE_SPEED = 4.5  # m/s; at most 1.9 cm per step, far less than a ball's diameter

# 0 is the cue ball; 1-7 solids, 8 the black, 9-15 stripes of the colours of 1-7.
BALL_COLOURS = {
    0: ("white", (245, 245, 240)), 1: ("yellow", (250, 200, 20)), 2: ("blue", (30, 70, 200)),
    3: ("red", (210, 30, 30)), 4: ("purple", (110, 40, 150)), 5: ("orange", (245, 120, 20)),
    6: ("green", (20, 140, 60)), 7: ("maroon", (120, 20, 30)), 8: ("black", (20, 20, 20)),
}  # fmt: skip
for _n in range(9, 16):
    BALL_COLOURS[_n] = BALL_COLOURS[_n - 8]

POCKET_NAMES = list(POCKETS)
POCKET_XY = np.array([[x, y] for x, y, _ in POCKETS.values()])
POCKET_R2 = np.array([POCKET_RADIUS[kind] ** 2 for _, _, kind in POCKETS.values()])
LOW = np.array([BALL_RADIUS, BALL_RADIUS])
HIGH = np.array([TABLE_LENGTH - BALL_RADIUS, TABLE_WIDTH - BALL_RADIUS])
CUSHION_NAMES = (("left", "top"), ("right", "bottom"))  # [low/high][axis]


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
    detail: str = ""  # strike: angle and speed; cushion: which one; pocket: which one


@dataclass
class Simulation:
    """Initial layout, the strike, the event log and the trajectory (positions at every step)."""

    seed: int
    numbers: list[int]
    initial: np.ndarray  # [N, 2]
    strike_angle: float
    strike_speed: float
    events: list[Event] = field(default_factory=list)
    trajectory: np.ndarray | None = None  # [steps + 1, N, 2], NaN once pocketed
    times: np.ndarray | None = None  # [steps + 1]
    stop_time: float = 0.0
    kinetic_energy: np.ndarray | None = None  # [steps + 1], per unit mass

    @property
    def final_positions(self) -> dict[int, tuple[float, float] | None]:
        last = self.trajectory[-1]
        return {n: (None if np.isnan(last[i, 0]) else (float(last[i, 0]), float(last[i, 1])))
                for i, n in enumerate(self.numbers)}  # fmt: skip

    def event_log(self) -> dict:
        """JSON-ready: strike, every collision, cushion and pocket, final positions, stop time."""
        return {
            "seed": self.seed,
            "balls": list(self.numbers),
            "initial_positions": {str(n): [float(x), float(y)] for n, (x, y) in zip(self.numbers, self.initial)},
            "strike": {"ball": 0, "angle": self.strike_angle, "speed": self.strike_speed},
            "events": [asdict(e) for e in self.events],
            "final_positions": {str(k): (list(v) if v else None) for k, v in self.final_positions.items()},
            "stop_time": self.stop_time,
        }


@dataclass
class ShotConfig:
    """How shots are laid out and aimed. `pocket_shot` of the strikes are aimed to pot a ball
    (cue ball to the "ghost ball" spot, with enough speed), `ball_shot` straight at a ball with a
    random speed, and the rest in a random direction."""

    min_balls: int = 1
    max_balls: int = 15
    pocket_shot: float = 0.7
    ball_shot: float = 0.2
    aim_noise: float = 0.003  # radians
    max_time: float = 8.0

    def __post_init__(self):
        if not 1 <= self.min_balls <= self.max_balls <= 15:
            raise ValueError(f"object balls: need 1 <= min_balls <= max_balls <= 15, got {self.min_balls}..{self.max_balls}.")
        if not (0 <= self.pocket_shot and 0 <= self.ball_shot and self.pocket_shot + self.ball_shot <= 1):
            raise ValueError(f"pocket_shot and ball_shot must be shares summing to at most 1, got "
                             f"{self.pocket_shot} and {self.ball_shot}.")  # fmt: skip


def random_layout(rng: np.random.Generator, num_object_balls: int) -> tuple[list[int], np.ndarray]:
    """Cue ball plus `num_object_balls` distinct numbered balls at non-overlapping positions, not in
    the pockets' mouths."""
    numbers = [0] + sorted(rng.choice(np.arange(1, 16), size=num_object_balls, replace=False).tolist())
    margin = BALL_RADIUS * 1.5
    positions: list[np.ndarray] = []
    while len(positions) < len(numbers):
        p = np.array([rng.uniform(margin, TABLE_LENGTH - margin), rng.uniform(margin, TABLE_WIDTH - margin)])
        pocket_clear = np.hypot(*(POCKET_XY - p).T).min() > 0.16
        if pocket_clear and all(math.dist(p, q) > 2.5 * BALL_RADIUS for q in positions):
            positions.append(p)
    return numbers, np.array(positions)


def _path_clear(start: np.ndarray, end: np.ndarray, others: np.ndarray, width: float) -> bool:
    """No ball centre in `others` within `width` of the segment start-end."""
    if not len(others):
        return True
    d = end - start
    s = np.clip((others - start) @ d / max(d @ d, 1e-12), 0, 1)
    return bool((np.hypot(*(others - (start + s[:, None] * d)).T) > width).all())


def _pocket_shots(positions: np.ndarray) -> list[tuple[float, float]]:
    """(angle, speed) of every clear cut of an object ball into a pocket (cut under 60 degrees;
    middle pockets only from steep enough angles); the speed just gets the ball there."""
    cue, shots = positions[0], []
    for t in range(1, len(positions)):
        target, others = positions[t], np.delete(positions, [0, t], axis=0)
        for p, pocket in enumerate(POCKET_XY):
            to_pocket = pocket - target
            d_obj = float(np.linalg.norm(to_pocket))
            direction = to_pocket / d_obj
            if POCKET_NAMES[p].endswith("middle") and abs(direction[1]) < 0.6:
                continue  # a middle pocket's mouth is only open to steep approaches
            ghost = target - 2 * BALL_RADIUS * direction
            approach = ghost - cue
            d_cue = float(np.linalg.norm(approach))
            if d_cue < 1e-6:
                continue
            cos_cut = float(approach @ direction) / d_cue
            if cos_cut < math.cos(math.radians(60)):
                continue
            if not (_path_clear(cue, ghost, others, 2 * BALL_RADIUS) and _path_clear(target, pocket, others, 2 * BALL_RADIUS)):
                continue
            # the object ball leaves with ~ v_contact * cos(cut) * (1 + e) / 2 and must roll d_obj
            v_obj = math.sqrt(2 * DECELERATION * d_obj) / (cos_cut * (1 + BALL_RESTITUTION) / 2)
            speed = math.sqrt(v_obj**2 + 2 * DECELERATION * d_cue)
            shots.append((math.atan2(approach[1], approach[0]), speed))
    return shots


def aim(rng: np.random.Generator, positions: np.ndarray, config: ShotConfig) -> tuple[float, float]:
    """The strike's (angle, speed): a pocket shot, a plain hit on a ball, or anywhere (see ShotConfig)."""
    choice = rng.random()
    if choice < config.pocket_shot:
        shots = [s for s in _pocket_shots(positions) if s[1] * 1.15 <= MAX_STRIKE_SPEED]
        if shots:
            angle, speed = shots[int(rng.integers(len(shots)))]
            speed = min(speed * rng.uniform(1.15, 1.8), MAX_STRIKE_SPEED)
            return angle + float(rng.normal(0, config.aim_noise)), float(speed)
    speed = float(rng.uniform(1.0, 3.5))
    if len(positions) > 1 and choice < config.pocket_shot + config.ball_shot:
        d = positions[int(rng.integers(1, len(positions)))] - positions[0]
        return float(math.atan2(d[1], d[0]) + rng.normal(0, 0.03)), speed
    return float(rng.uniform(-math.pi, math.pi)), speed


def simulate(seed: int, num_object_balls: int | None = None, config: ShotConfig | None = None,
             max_time: float | None = None) -> Simulation:  # fmt: skip
    """Lay out, strike and run one shot until every ball stops (or the time limit)."""
    config = config or ShotConfig()
    rng = np.random.default_rng(seed)
    if num_object_balls is None:
        num_object_balls = int(rng.integers(config.min_balls, config.max_balls + 1))
    if not 1 <= num_object_balls <= 15:
        raise ValueError(f"num_object_balls must be 1..15, got {num_object_balls}.")
    numbers, pos = random_layout(rng, num_object_balls)
    angle, speed = aim(rng, pos, config)
    return run_shot(numbers, pos, angle, speed, seed=seed, max_time=max_time or config.max_time)


def run_shot(numbers: list[int], positions, angle: float, speed: float, seed: int = -1,
             max_time: float = 8.0) -> Simulation:  # fmt: skip
    """Strike the cue ball (`numbers[0]` must be 0) at `angle` (radians, y down) and `speed` (m/s)
    from the given layout, and run until every ball stops or `max_time`."""
    pos = np.array(positions, dtype=float).reshape(len(numbers), 2)
    if numbers[0] != 0:
        raise ValueError(f"the first ball must be the cue ball (0), got {numbers[0]}.")
    sim = Simulation(seed, list(numbers), pos.copy(), float(angle), float(speed))
    sim.events.append(Event(0.0, "strike", [0], f"angle {angle:.4f} rad, speed {speed:.3f} m/s"))
    vel = np.zeros_like(pos)
    vel[0] = speed * np.array([math.cos(angle), math.sin(angle)])
    n = len(numbers)
    upper = np.triu(np.ones((n, n), bool), 1)
    frames, energies = [pos.copy()], [0.5 * float((vel**2).sum())]
    step, steps = 0, int(max_time / DT)
    while step < steps:
        step += 1
        t = step * DT
        # rolling resistance: speed falls by DECELERATION * DT, never below zero
        speeds = np.hypot(vel[:, 0], vel[:, 1])
        factor = np.maximum(speeds - DECELERATION * DT, 0) / np.maximum(speeds, 1e-12)
        factor[speeds - DECELERATION * DT < STOP_SPEED] = 0
        vel *= factor[:, None]
        pos += vel * DT
        # pocketed balls have NaN positions, so every comparison below leaves them out
        diff = pos[:, None, :] - pos[None, :, :]
        close = upper & ((diff**2).sum(-1) < (2 * BALL_RADIUS) ** 2)
        if close.any():
            _collide(sim, pos, vel, close, t)
        if ((pos < LOW) | (pos > HIGH)).any():
            _pockets(sim, pos, vel, t)
            _cushions(sim, pos, vel, t)
        frames.append(pos.copy())
        energies.append(0.5 * float((vel**2).sum()))
        if not vel.any():
            break
    sim.stop_time = round(step * DT, 6)
    sim.events.append(Event(sim.stop_time, "stop", [], "all balls at rest"))
    sim.trajectory, sim.kinetic_energy = np.array(frames), np.array(energies)
    sim.times = np.arange(len(frames)) * DT
    return sim


def _collide(sim: Simulation, pos: np.ndarray, vel: np.ndarray, close: np.ndarray, t: float) -> None:
    """Resolve overlapping pairs, earliest contact first: back to the contact, exchange the normal
    velocity components (equal masses, restitution e), on for the rest of the step."""
    pairs = []
    for a, b in zip(*np.nonzero(close)):
        d, w = pos[a] - pos[b], vel[a] - vel[b]
        ww, dw = float(w @ w), float(d @ w)
        # time back to contact: |d - w s| = 2R, the positive root
        disc = dw * dw - ww * (float(d @ d) - (2 * BALL_RADIUS) ** 2)
        s = min((dw + math.sqrt(max(disc, 0.0))) / ww, DT) if ww > 1e-12 else 0.0
        pairs.append((-max(s, 0.0), int(a), int(b)))
    for back, a, b in sorted(pairs):  # largest rewind (earliest contact) first
        s = -back
        pa, pb = pos[a] - vel[a] * s, pos[b] - vel[b] * s
        normal = pa - pb
        dist = float(np.linalg.norm(normal))
        normal = normal / dist if dist > 1e-12 else np.array([1.0, 0.0])
        va, vb = float(vel[a] @ normal), float(vel[b] @ normal)
        if va - vb < 0:  # approaching along the line of centres
            e = BALL_RESTITUTION
            new_a, new_b = ((1 - e) * va + (1 + e) * vb) / 2, ((1 + e) * va + (1 - e) * vb) / 2
            vel[a] += (new_a - va) * normal
            vel[b] += (new_b - vb) * normal
            pos[a], pos[b] = pa + vel[a] * s, pb + vel[b] * s
            sim.events.append(Event(round(t - s, 6), "collision", sorted((sim.numbers[a], sim.numbers[b]))))
        # resting or multi-ball contacts: push apart whatever overlap is left
        gap = pos[a] - pos[b]
        dist = float(np.linalg.norm(gap))
        if dist < 2 * BALL_RADIUS:
            push = (gap / dist if dist > 1e-12 else normal) * (2 * BALL_RADIUS - dist) / 2
            pos[a] += push
            pos[b] -= push


def _pockets(sim: Simulation, pos: np.ndarray, vel: np.ndarray, t: float) -> None:
    """A ball whose centre is inside a pocket's circle drops: it leaves the table (NaN) and stops."""
    inside = ((pos[:, None, :] - POCKET_XY[None]) ** 2).sum(-1) < POCKET_R2
    for i in np.flatnonzero(inside.any(axis=1)):
        sim.events.append(Event(round(t, 6), "pocket", [sim.numbers[i]], POCKET_NAMES[int(np.argmax(inside[i]))]))
        pos[i] = np.nan
        vel[i] = 0


def _cushions(sim: Simulation, pos: np.ndarray, vel: np.ndarray, t: float) -> None:
    """A ball past a cushion line and moving outwards is mirrored back with the cushion's restitution."""
    for side, bound, outward in ((0, LOW, -1), (1, HIGH, 1)):
        hit = (outward * (pos - bound) > 0) & (outward * vel > 0)
        for i, axis in zip(*np.nonzero(hit)):
            overshoot = pos[i, axis] - bound[axis]  # travelled this far past the line at the old speed
            vel[i, axis] *= -CUSHION_RESTITUTION
            pos[i, axis] = bound[axis] - overshoot * CUSHION_RESTITUTION
            sim.events.append(Event(round(t, 6), "cushion", [sim.numbers[i]], CUSHION_NAMES[side][axis]))
    np.clip(pos, LOW, HIGH, out=pos)  # a ball pushed past a cushion by an overlap fix (NaN stays NaN)


__all__ = [
    "BALL_COLOURS", "BALL_RADIUS", "POCKETS", "POCKET_NAMES", "TABLE_LENGTH", "TABLE_WIDTH", "Event", "ShotConfig",
    "Simulation", "ball_name", "run_shot", "simulate",
]  # fmt: skip
