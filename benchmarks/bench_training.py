"""Training speed: the encoder's local loss against global only, and samples/s per stage.

1. CLIP-ViP+ training step (forward, backward, AdamW step) on one batch with the SPARC local loss
   (`pre_projection`) against the same model with `local_loss_placement="none"`: 12 frames of
   112 px (patch 16, 49 patches a frame), width 256, 4 layers per tower, batch 4, captions of 24
   tokens. Interleaved medians.
2. Samples per second of each stage's tiny recipe (Trainer's own train_samples_per_second) on a
   small billiards data set made here.

    python benchmarks/bench_training.py [--repeats 5]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from modeling_hilight import CLIPViPPlusConfig, CLIPViPPlusModel
from modeling_hilight.training.billiards import make_dataset
from modeling_hilight.training.train import build, parse

RECIPES = Path(__file__).resolve().parents[1] / "training" / "recipes"


def encoder(placement: str) -> CLIPViPPlusModel:
    torch.manual_seed(0)
    config = CLIPViPPlusConfig(
        text_config=dict(vocab_size=1000, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                         num_attention_heads=4, max_position_embeddings=32, pad_token_id=0, bos_token_id=2,
                         eos_token_id=1),
        vision_config=dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                           image_size=112, patch_size=16),
        projection_dim=256, local_loss_placement=placement, language_mask_policy="special_tokens",
    )  # fmt: skip
    return CLIPViPPlusModel(config).train()


def step_time(model, batch, repeats):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step():
        optimizer.zero_grad()
        model(**batch, return_loss=True).loss.backward()
        optimizer.step()

    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    ids = torch.randint(3, 1000, (4, 24))
    ids[:, 0], ids[:, -1] = 2, 1
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
             "pixel_values_videos": torch.randn(4, 12, 3, 112, 112)}  # fmt: skip
    steps = {name: step_time(encoder(p), batch, args.repeats) for name, p in (("local", "pre_projection"),
                                                                               ("global", "none"))}  # fmt: skip
    times = {name: [] for name in steps}
    for fn in steps.values():
        fn()
    for _ in range(args.repeats):
        for name, fn in steps.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    local, plain = statistics.median(times["local"]), statistics.median(times["global"])
    print(f"encoder step, batch 4 x 12 frames: global + local {local * 1e3:.0f} ms, global only {plain * 1e3:.0f} ms")
    print(f"RATIO encoder step local/global = {local / plain:.2f} (goal <= 1.3)")

    with tempfile.TemporaryDirectory() as folder:
        data = make_dataset(Path(folder) / "data", 24, width=64, height=32, workers=2, progress=False)
        del data
        for stage in ("encoder", "align", "instruct"):
            recipe, targs = parse(stage, str(RECIPES / f"{stage}_tiny.yaml"),
                                  ["--data", str(Path(folder) / "data"), "--output_dir", str(Path(folder) / stage),
                                   "--max_steps", "20", "--disable_tqdm", "true", "--logging_steps", "20"])  # fmt: skip
            trainer, _, _ = build(stage, recipe, targs)
            metrics = trainer.train().metrics
            print(f"{stage} stage, tiny recipe (batch {targs.per_device_train_batch_size}, 4 frames of 32 px): "
                  f"{metrics['train_samples_per_second']:.1f} samples/s")


if __name__ == "__main__":
    sys.exit(main())
