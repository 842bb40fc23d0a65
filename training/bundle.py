"""`make bundled-model`: train the HiLight that ships inside the package, from the committed recipes.

    python -m modeling_hilight.training.bundle [--out runs/bundled] [--clips 3000] [--seed 7]

1. a seeded billiards data set (`hilight data`);
2. the mean and standard deviation of its frames: the processors normalise with the data's own
   statistics (the cloth is nearly uniform, so CLIP's statistics would leave the balls, the only
   thing that differs between clips, as tiny deviations);
3. the three stages from `training/recipes/bundled_*.yaml`: the CLIP-ViP+ encoder (global, SPARC
   local and the supervised grounding loss), alignment (token mining and the new LLM), instruction
   tuning (TRL SFTTrainer);
4. the encoder and the merged model copied to `modeling_hilight/bundled/{clip_vip_plus,hilight}`,
   with `model_card.md` as the HiLight's README.md.
Then `hilight eval` measures it (see model_card.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

RECIPES = Path(__file__).resolve().parent / "recipes"
PACKAGE = Path(__file__).resolve().parent.parent / "modeling_hilight"


def frame_statistics(data_dir: Path, size: int, frames: int, clips: int = 200) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (0..1) of the sampled, resized frames of the first `clips` training clips."""
    from ..processing.video_decoding import decode_video
    from .billiards import load_billiards

    train = load_billiards(data_dir, "train")
    pixels = [decode_video(row["video"], frames, decode_size=size)[0] for row in train.select(range(min(clips, len(train))))]
    x = np.concatenate([p.reshape(-1, 3) for p in pixels]).astype(np.float64) / 255.0
    return [round(v, 4) for v in x.mean(0).tolist()], [round(v, 4) for v in x.std(0).tolist()]


def run_stage(stage: str, overrides: dict) -> Path:
    from .train import parse, train

    flat = [x for key, value in overrides.items() for x in (f"--{key}", json.dumps(value) if isinstance(value, list) else str(value))]
    recipe, args = parse(stage, str(RECIPES / f"bundled_{stage}.yaml"), flat)
    start = time.perf_counter()
    trainer = train(stage, recipe, args)
    logs = [e for e in trainer.state.log_history if "loss" in e]
    print(f"{stage}: {trainer.state.global_step} steps, loss {logs[0]['loss']:.3f} -> {logs[-1]['loss']:.3f} "
          f"in {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    return Path(args.output_dir)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/bundled", help="folder for the data and the three stages")
    parser.add_argument("--clips", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7, help="the data set's seed")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--no-install", action="store_true", help="do not copy into modeling_hilight/bundled")
    parser.add_argument("--stages", nargs="+", default=["encoder", "align", "instruct"],
                        help="stages to (re)train; the others are read from --out")


def run(args: argparse.Namespace) -> int:
    import yaml

    from .billiards import make_dataset

    out, start = Path(args.out), time.perf_counter()
    data = out / "data"
    if not (data / "dataset_dict.json").exists():
        make_dataset(data, args.clips, seed=args.seed, width=args.width, height=args.height, workers=2, progress=False)
    print(f"data: {args.clips} clips in {data} ({time.perf_counter() - start:.0f} s)", flush=True)
    encoder_recipe = yaml.safe_load((RECIPES / "bundled_encoder.yaml").read_text())
    mean, std = frame_statistics(data, encoder_recipe["image_size"], encoder_recipe["num_frames"])
    print(f"frame statistics: mean {mean} std {std}", flush=True)
    common = {"data": str(data), "image_mean": mean, "image_std": std}
    encoder, align, instruct = out / "encoder", out / "align", out / "instruct"
    if "encoder" in args.stages:
        run_stage("encoder", {**common, "output_dir": str(encoder)})
    if "align" in args.stages:
        run_stage("align", {**common, "output_dir": str(align), "clip_vip_path": str(encoder)})
    if "instruct" in args.stages:
        run_stage("instruct", {**common, "output_dir": str(instruct), "model": str(align)})
    merged = instruct / "merged" if (instruct / "merged").exists() else instruct
    print(f"trained in {time.perf_counter() - start:.0f} s", flush=True)
    if not args.no_install:
        for source, name in ((encoder, "clip_vip_plus"), (merged, "hilight")):
            target = PACKAGE / "bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for path in source.iterdir():  # the model, its code and its processor; no optimiser state or logs
                if path.name == "additional_chat_templates":
                    shutil.copytree(path, target / path.name)
                elif path.is_file() and path.suffix in (".json", ".safetensors", ".py", ".jinja") and not (
                    path.name in ("skipped_samples.json", "trainer_state.json")
                ):
                    shutil.copy2(path, target / path.name)
            print(f"installed {source} -> {target}")
        shutil.copy2(PACKAGE.parent / "model_card.md", PACKAGE / "bundled" / "hilight" / "README.md")  # its card
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m modeling_hilight.training.bundle", description=__doc__.split("\n")[0])
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
