"""Token-mining variants compared on one alignment task (the paper's Figure 3, at tiny size).

Each variant trains the alignment stage's tiny recipe (towers and LLM frozen, only token mining
learns) for the same steps on the same synthetic billiards clips, from the same seed; the table
is the validation loss at the end. The LLM is a frozen random tiny one standing in for a trained
LLM, so this compares how well each variant can steer a fixed decoder with the video, not the
published models.

    python benchmarks/compare_token_mining.py [--clips 64] [--steps 80]
"""

import argparse
import tempfile
from pathlib import Path

from modeling_hilight.training.billiards import make_dataset
from modeling_hilight.training.train import build, parse

RECIPES = Path(__file__).resolve().parents[1] / "training" / "recipes"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--steps", type=int, default=80)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        make_dataset(data, args.clips, width=64, height=32, workers=2, progress=False)
        results = {}
        for variant in ("reference", "structure1", "structure2", "improved"):
            recipe, targs = parse("align", str(RECIPES / "align_tiny.yaml"), [
                "--data", str(data), "--output_dir", str(Path(folder) / variant), "--max_steps", str(args.steps),
                "--token_mining_variant", variant, "--disable_tqdm", "true", "--logging_steps", str(args.steps),
                "--eval_strategy", "no"])  # fmt: skip
            trainer, _, _ = build("align", recipe, targs)
            before = trainer.evaluate()["eval_loss"]
            trainer.train()
            after = trainer.evaluate()["eval_loss"]
            params = sum(p.numel() for p in trainer.model.model.token_mining.parameters())
            tokens = trainer.model.config.num_vision_tokens
            results[variant] = (before, after, params, tokens)
    print(f"alignment, {args.steps} steps, {args.clips} clips; validation loss before -> after")
    for variant, (before, after, params, tokens) in results.items():
        print(f"  {variant:10s} {before:.3f} -> {after:.3f}  ({params:,} parameters, {tokens} vision tokens a video)")


if __name__ == "__main__":
    main()
