"""A small billiards data set and recipe helpers shared by the training tests."""

from pathlib import Path

from modeling_hilight.training.billiards import make_dataset
from modeling_hilight.training.train import parse

RECIPES = Path(__file__).resolve().parents[1] / "training" / "recipes"


def billiards(folder: Path, clips: int = 8) -> Path:
    make_dataset(folder, clips, width=64, height=32, workers=1, progress=False)
    return folder


def recipe(stage: str, data: Path, out: Path, **overrides):
    values = {"data": str(data), "output_dir": str(out), "max_train_samples": 4, "max_steps": 16,
              "disable_tqdm": True, **overrides}  # fmt: skip
    flat = [x for k, v in values.items() for x in (f"--{k}", str(v))]
    return parse(stage, str(RECIPES / f"{stage}_tiny.yaml"), flat)
