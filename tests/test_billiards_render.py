"""Rendering: the per-frame ground truth is where the balls are drawn; clips decode back."""

import numpy as np
import pytest

from modeling_hilight.processing.video_decoding import decode_video
from modeling_hilight.training.billiards.physics import BALL_COLOURS, simulate
from modeling_hilight.training.billiards.render import RenderSettings, render_frames, write_mp4


def test_ground_truth_centres_hold_the_ball_colours():
    sim = simulate(3, num_object_balls=6)
    frames, truth = render_frames(sim, RenderSettings(width=256, height=128, lighting=False))
    assert len(frames) == len(truth)
    checked = 0
    for frame, balls in zip(frames[::5], truth[::5]):
        for ball in balls:
            x, y = int(ball["x"]), int(ball["y"])
            colour = np.array(BALL_COLOURS[ball["ball"]][1], float)
            if ball["ball"] >= 9:
                continue  # stripes: white caps and a coloured band; the centre row is the band
            if any(o is not ball and abs(o["x"] - ball["x"]) < 2 * ball["radius"] + 1 and
                   abs(o["y"] - ball["y"]) < 2 * ball["radius"] + 1 for o in balls):  # fmt: skip
                continue  # touching another ball
            pixel = frame[y, x].astype(float)
            assert np.abs(pixel - colour).max() < 70, (ball, pixel, colour)  # shading brightens a little
            checked += 1
    assert checked > 10


def test_balls_have_the_projected_radius_and_perspective_shrinks_the_far_side():
    sim = simulate(4, num_object_balls=3)
    _, flat = render_frames(sim, RenderSettings(width=256, height=128))
    _, tilted = render_frames(sim, RenderSettings(width=256, height=128, perspective=0.2))
    radius = {b["radius"] for b in flat[0]}
    assert len(radius) == 1 and 3 < radius.pop() < 4  # 0.0285 m * (256 - 2 * 7.68) px / 2 m
    top = min(tilted[0], key=lambda b: b["y"])
    bottom = max(tilted[0], key=lambda b: b["y"])
    assert top["radius"] < bottom["radius"]


def test_same_seed_same_pixels_and_noise_option():
    sim = simulate(2)
    a, _ = render_frames(sim, RenderSettings(seed=1))
    b, _ = render_frames(sim, RenderSettings(seed=1))
    noisy, _ = render_frames(sim, RenderSettings(seed=1, noise=5))
    assert np.array_equal(a, b) and not np.array_equal(a, noisy)
    assert a.shape[1:] == (64, 128, 3) and len(a) == round(max(sim.stop_time + 0.5, 1.0) * 12) + 1


def test_written_clip_decodes_with_the_frame_count_and_colours(tmp_path):
    sim = simulate(1)
    frames, _ = render_frames(sim, RenderSettings(width=96, height=48, fps=10))
    write_mp4(frames, tmp_path / "shot.mp4", fps=10, crf=12)
    decoded, meta, _ = decode_video(tmp_path / "shot.mp4", len(frames))
    assert meta.total_num_frames == len(frames) and meta.fps == 10
    assert np.abs(decoded.astype(float) - frames.astype(float)).mean() < 4  # H.264 at crf 12


def test_odd_frame_sizes_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="frame size must be even and at least 16x8 \\(H.264\\), got 127x64"):
        RenderSettings(width=127, height=64)


def test_ball_coverage_is_its_area_and_its_centre_is_the_ground_truth():
    # a solid ball on a black image: coverage (mean over the channels / the colour) sums to pi r^2,
    # and the coverage-weighted centroid is the given centre (reference: plain numpy over the image)
    from modeling_hilight.training.billiards.render import draw_ball

    for cx, cy, r in ((20.3, 15.7, 3.4), (31.0, 12.5, 6.2), (9.9, 9.1, 2.2)):
        image = np.zeros((32, 48, 3), np.float32)
        draw_ball(image, 0, cx, cy, r, shading=False)  # the cue ball: no number
        cover = image[..., 0] / BALL_COLOURS[0][1][0]
        assert cover.sum() == pytest.approx(np.pi * r * r, rel=0.02)
        yy, xx = np.mgrid[0:32, 0:48] + 0.5
        assert (cover * xx).sum() / cover.sum() == pytest.approx(cx, abs=0.02)
        assert (cover * yy).sum() / cover.sum() == pytest.approx(cy, abs=0.02)


def test_numbers_are_drawn_once_balls_are_big_enough():
    from modeling_hilight.training.billiards.render import NUMBER_MIN_RADIUS, draw_ball

    for radius, inked in ((NUMBER_MIN_RADIUS + 2, True), (NUMBER_MIN_RADIUS - 1, False)):
        image = np.zeros((40, 40, 3), np.float32)
        draw_ball(image, 2, 20.0, 20.0, radius, shading=False)
        centre = image[20 - int(radius) // 2 : 20 + int(radius) // 2, 20 - int(radius) // 2 : 20 + int(radius) // 2]
        white = (centre.min(-1) > 200).any()  # the spot under the digits
        ink = (centre.max(-1) < 40).any()  # the digits
        assert white == inked and ink == inked, radius
