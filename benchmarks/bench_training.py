"""Training speed: the encoder's local loss against global only, and samples/s per stage.

1. CLIP-ViP+ training step (forward, backward, AdamW step) on one batch with the SPARC local loss
   (`pre_projection`) against the same model with `local_loss_placement="none"`: 12 frames of
   112 px (patch 16, 49 patches a frame), width 256, 4 layers per tower, batch 4, captions of 24
   tokens. Interleaved medians.
2. Samples per second of each stage's tiny recipe (Trainer's own train_samples_per_second) on a
   small billiards data set made here (one run each, so n=1).

    python -m benchmarks.bench_training [--repeats 5]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from modeling_hilight import CLIPViPPlusConfig, CLIPViPPlusModel
from modeling_hilight.training.billiards import make_dataset
from modeling_hilight.training.train import build, parse

from .harness import Row, Side, add_common_arguments, emit, interleaved, set_threads

SCRIPT = "`benchmarks/bench_training.py`"
RECIPES = Path(__file__).resolve().parents[1] / "training" / "recipes"


def encoder(placement: str, width: int = 256, layers: int = 4, image: int = 112) -> CLIPViPPlusModel:
    torch.manual_seed(0)
    config = CLIPViPPlusConfig(
        text_config=dict(vocab_size=1000, hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers,
                         num_attention_heads=4, max_position_embeddings=32, pad_token_id=0, bos_token_id=2,
                         eos_token_id=1),
        vision_config=dict(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers,
                           num_attention_heads=4, image_size=image, patch_size=16),
        projection_dim=width, local_loss_placement=placement, language_mask_policy="special_tokens",
    )  # fmt: skip
    return CLIPViPPlusModel(config).train()


def step_time(model, batch):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step():
        optimizer.zero_grad()
        model(**batch, return_loss=True).loss.backward()
        optimizer.step()

    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    size, frames, image, steps, clips = (dict(width=256, layers=4, image=112), 12, 112, 20, 24)
    if args.smoke:
        args.repeats, size, frames, image, steps, clips = 1, dict(width=32, layers=1, image=32), 2, 32, 2, 6

    ids = torch.randint(3, 1000, (4, 24))
    ids[:, 0], ids[:, -1] = 2, 1
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
             "pixel_values_videos": torch.randn(4, frames, 3, image, image)}  # fmt: skip
    steps_fn = {name: step_time(encoder(p, **size), batch) for name, p in (("local", "pre_projection"),
                                                                            ("global", "none"))}  # fmt: skip
    t = interleaved(steps_fn, args.repeats)
    shape = f"batch 4 x {frames} frames of {image} px, width {size['width']}, {size['layers']} layers a tower"
    rows = [Row("training/encoder-local", f"encoder training step with the SPARC local loss / global loss only ({shape})",
                Side("global + local", [s * 1e3 for s in t["local"]], "ms"),
                Side("global only", [s * 1e3 for s in t["global"]], "ms"), "<= 1.3", SCRIPT)]  # fmt: skip

    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        data = make_dataset(Path(folder) / "data", clips, width=64, height=32, workers=2, progress=False)
        del data
        for stage in ("encoder", "align", "instruct"):
            recipe, targs = parse(stage, str(RECIPES / f"{stage}_tiny.yaml"),
                                  ["--data", str(Path(folder) / "data"), "--output_dir", str(Path(folder) / stage),
                                   "--max_steps", str(steps), "--disable_tqdm", "true", "--logging_steps",
                                   str(steps)])  # fmt: skip
            trainer, _, _ = build(stage, recipe, targs)
            rates[stage] = trainer.train().metrics["train_samples_per_second"]
            print(f"{stage} stage, tiny recipe: {rates[stage]:.1f} samples/s", flush=True)
    rows.append(Row("training/stages", "samples/s at the tiny recipes (4 frames of 32 px): instruct (TRL SFTTrainer) / "
                    "align (transformers Trainer)", Side("instruct", [rates["instruct"]], "samples/s"),
                    Side("align", [rates["align"]], "samples/s"), "", SCRIPT,
                    note=f"encoder stage {rates['encoder']:.0f} samples/s"))  # fmt: skip
    emit(rows, args)


if __name__ == "__main__":
    sys.exit(main())
