"""A synthetic, physics-grounded billiards world: seeded shots, rendered clips, captions, QA."""

from .dataset import add_conversations, load_billiards, make_clip, make_dataset, save_strip, split_sizes
from .physics import ShotConfig, Simulation, ball_name, run_shot, simulate
from .render import RenderSettings, render_frames, write_mp4
from .text import (
    QUESTION_TYPES, ShotFacts, answer_balance, candidate_questions, caption, choose_questions, conversation,
)  # fmt: skip

__all__ = [
    "QUESTION_TYPES", "RenderSettings", "ShotConfig", "ShotFacts", "Simulation", "add_conversations",
    "answer_balance", "ball_name", "candidate_questions", "caption", "choose_questions", "conversation",
    "load_billiards", "make_clip", "make_dataset", "render_frames", "run_shot", "save_strip", "simulate",
    "split_sizes", "write_mp4",
]  # fmt: skip
