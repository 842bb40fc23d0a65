"""A synthetic, physics-grounded billiards world: seeded shots, rendered clips, captions, QA."""

from .dataset import make_clip, make_dataset, save_strip, split_sizes
from .physics import Simulation, ball_name, simulate
from .render import RenderSettings, render_frames, write_mp4
from .text import QUESTION_TYPES, ShotFacts, answer_balance, candidate_questions, caption, conversation

__all__ = [
    "QUESTION_TYPES", "RenderSettings", "ShotFacts", "Simulation", "answer_balance", "ball_name",
    "candidate_questions", "caption", "conversation", "make_clip", "make_dataset", "render_frames", "save_strip",
    "simulate", "split_sizes", "write_mp4",
]  # fmt: skip
