"""Rendering a simulated shot: top-down frames (optionally a slight perspective), anti-aliased
balls with colours and stripes, a textured cloth, optional lighting and noise, written as H.264
with PyAV, with each ball's centre and radius in pixels for every frame (localisation truth).

The rasteriser is numpy over each ball's bounding box only, with coverage anti-aliasing
(`clip(r + 0.5 - distance, 0, 1)`), so a clip of a hundred small frames takes milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from .physics import BALL_COLOURS, BALL_RADIUS, POCKET_RADIUS, POCKETS, TABLE_LENGTH, TABLE_WIDTH, Simulation

CLOTH = np.array([30, 110, 60], np.float32)
WHITE = np.array([245, 245, 240], np.float32)
# 3x5 digits, drawn on a white spot once a ball is big enough for them to be legible
DIGITS = {d: np.array([[c == "1" for c in row] for row in rows.split()], bool) for d, rows in {
    "0": "111 101 101 101 111", "1": "010 110 010 010 111", "2": "111 001 111 100 111", "3": "111 001 111 001 111",
    "4": "101 101 111 001 001", "5": "111 100 111 001 111", "6": "111 100 111 101 111", "7": "111 001 001 001 001",
    "8": "111 101 111 101 111", "9": "111 101 111 001 111"}.items()}  # fmt: skip
NUMBER_MIN_RADIUS = 5.0  # pixels
RAIL = np.array([90, 55, 30], np.float32)


@dataclass
class RenderSettings:
    width: int = 128
    height: int = 64
    fps: int = 12
    tail: float = 0.5  # seconds of stillness after the last motion
    perspective: float = 0.0  # 0: top-down; 0.1: the far (top) edge is 10 % narrower
    lighting: bool = True
    noise: float = 0.0  # standard deviation of per-frame pixel noise (0-255 scale)
    seed: int = 0

    def __post_init__(self):
        if self.width % 2 or self.height % 2 or self.width < 16 or self.height < 8:
            raise ValueError(f"frame size must be even and at least 16x8 (H.264), got {self.width}x{self.height}.")


class TableProjection:
    """Table metres -> pixels, with an optional trapezoid perspective (far edge narrower)."""

    def __init__(self, settings: RenderSettings):
        self.s = settings
        self.border = max(2.0, settings.height * 0.06)
        self.table_w = settings.width - 2 * self.border
        self.table_h = settings.height - 2 * self.border
        self.scale = self.table_w / TABLE_LENGTH  # pixels per metre along x at the near edge

    def row_scale(self, v):
        return 1.0 - self.s.perspective * (1.0 - v)

    def to_pixels(self, x, y):
        u, v = np.asarray(x) / TABLE_LENGTH, np.asarray(y) / TABLE_WIDTH
        px = self.s.width / 2 + (u - 0.5) * self.table_w * self.row_scale(v)
        return px, self.border + v * self.table_h, self.row_scale(v)

    def to_table(self, px, py):
        v = (np.asarray(py) - self.border) / self.table_h
        u = (np.asarray(px) - self.s.width / 2) / (self.table_w * self.row_scale(v)) + 0.5
        return u * TABLE_LENGTH, v * TABLE_WIDTH


def render_background(projection: TableProjection, rng: np.random.Generator) -> np.ndarray:
    s = projection.s
    py, px = np.mgrid[0 : s.height, 0 : s.width].astype(np.float32) + 0.5
    x, y = projection.to_table(px, py)
    on_cloth = (x >= 0) & (x <= TABLE_LENGTH) & (y >= 0) & (y <= TABLE_WIDTH)
    texture = rng.normal(0, 4, (s.height, s.width, 1)).astype(np.float32)
    image = np.where(on_cloth[..., None], CLOTH + texture, RAIL + texture * 0.5)
    for (cx, cy, kind) in POCKETS.values():
        pcx, pcy, k = projection.to_pixels(cx, cy)
        radius = POCKET_RADIUS[kind] * projection.scale * k * 0.8
        cover = np.clip(radius + 0.5 - np.hypot(px - pcx, py - pcy), 0, 1)[..., None]
        image = image * (1 - cover) + 8 * cover
    if s.lighting:  # a soft light over the middle of the table
        falloff = 1.0 - 0.25 * (((px / s.width - 0.5) * 2) ** 2 + ((py / s.height - 0.5) * 2) ** 2)
        image = image * falloff[..., None]
    return image


def draw_ball(image: np.ndarray, number: int, cx: float, cy: float, radius: float, shading: bool = True) -> None:
    """Composite one ball with coverage anti-aliasing; stripes are white with a coloured band."""
    height, width, _ = image.shape
    x0, x1 = max(int(cx - radius - 1), 0), min(int(cx + radius + 2), width)
    y0, y1 = max(int(cy - radius - 1), 0), min(int(cy + radius + 2), height)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    dx, dy = xx - cx, yy - cy
    cover = np.clip(radius + 0.5 - np.hypot(dx, dy), 0, 1)[..., None]
    colour = np.array(BALL_COLOURS[number][1], np.float32)
    if number >= 9:  # stripe: colour band across the middle, white caps
        colour = np.where((np.abs(dy) < 0.5 * radius)[..., None], colour, WHITE)
    else:
        colour = np.broadcast_to(colour, cover.shape[:2] + (3,))
    if number > 0 and radius >= NUMBER_MIN_RADIUS:
        colour = _number_spot(colour, str(number), dx, dy, radius)
    if shading:  # a highlight towards the top-left
        colour = colour * (1.0 + 0.25 * np.clip(1 - np.hypot(dx + 0.35 * radius, dy + 0.35 * radius) / max(radius, 1e-3),
                                                0, 1))[..., None]  # fmt: skip
    patch = image[y0:y1, x0:x1]
    image[y0:y1, x0:x1] = patch * (1 - cover) + np.clip(colour, 0, 255) * cover


def _number_spot(colour: np.ndarray, text: str, dx: np.ndarray, dy: np.ndarray, radius: float) -> np.ndarray:
    """A white spot with the ball's number in black, centred on the ball."""
    glyphs = np.concatenate([np.pad(DIGITS[c], ((0, 0), (0, 1))) for c in text], axis=1)[:, :-1]  # [5, 4n-1]
    cell = max(1, int(radius * 0.9 / 5))
    spot = np.clip(radius * 0.45 + 0.5 - np.hypot(dx, dy), 0, 1)[..., None]  # the digits may overhang it
    colour = colour * (1 - spot) + WHITE * spot
    gx = np.floor((dx + glyphs.shape[1] * cell / 2) / cell).astype(int)
    gy = np.floor((dy + 2.5 * cell) / cell).astype(int)
    inside = (gx >= 0) & (gx < glyphs.shape[1]) & (gy >= 0) & (gy < 5)
    ink = np.zeros(dx.shape, bool)
    ink[inside] = glyphs[gy[inside], gx[inside]]
    return np.where(ink[..., None], np.float32(15), colour)


def render_frames(sim: Simulation, settings: RenderSettings) -> tuple[np.ndarray, list[list[dict]]]:
    """Frames `[F, H, W, 3]` uint8 and, per frame, `[{"ball", "x", "y", "radius"}]` in pixels."""
    rng = np.random.default_rng(settings.seed)
    projection = TableProjection(settings)
    background = render_background(projection, rng)
    duration = max(sim.stop_time + settings.tail, 1.0)
    count = int(round(duration * settings.fps)) + 1
    step_of = np.minimum(np.round(np.arange(count) / settings.fps / (sim.times[1] - sim.times[0])).astype(int),
                         len(sim.trajectory) - 1)  # fmt: skip
    frames = np.empty((count, settings.height, settings.width, 3), np.uint8)
    truth: list[list[dict]] = []
    for f, step in enumerate(step_of):
        image = background.copy()
        balls = []
        for i, number in enumerate(sim.numbers):
            x, y = sim.trajectory[step, i]
            if np.isnan(x):
                continue
            px, py, k = projection.to_pixels(x, y)
            radius = BALL_RADIUS * projection.scale * float(k)
            draw_ball(image, number, float(px), float(py), radius)
            balls.append({"ball": number, "x": round(float(px), 2), "y": round(float(py), 2), "radius": round(radius, 2)})
        if settings.noise:
            image += rng.normal(0, settings.noise, image.shape).astype(np.float32)
        frames[f] = np.clip(image, 0, 255).astype(np.uint8)
        truth.append(balls)
    return frames, truth


def write_mp4(frames: np.ndarray, path, fps: int, crf: int = 23) -> None:
    """H.264 (yuv420p) with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": str(crf)})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def frame_strip(frames: np.ndarray, count: int = 5) -> np.ndarray:
    """`count` frames evenly spaced, side by side with a 2-pixel gap (for the README)."""
    picks = frames[np.linspace(0, len(frames) - 1, count).round().astype(int)]
    gap = np.full((frames.shape[1], 2, 3), 255, np.uint8)
    return np.concatenate([np.concatenate([p, gap], axis=1) for p in picks], axis=1)[:, :-2]


__all__ = ["RenderSettings", "TableProjection", "frame_strip", "render_frames", "write_mp4"]
