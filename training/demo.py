"""`hilight demo`: the whole pipeline on a fresh machine in about a minute, on CPU.

1. makes a small synthetic billiards data set (clips, captions, conversations, ground truth);
2. trains the paper's three stages at tiny size from the shipped recipes: the CLIP-ViP+ encoder
   (global + SPARC local loss), alignment (token mining only, with that encoder as the video
   tower), instruction tuning (TRL SFTTrainer + LoRA), and merges the LoRA;
3. reloads the merged checkpoint with `AutoModelForImageTextToText` / `AutoProcessor` and asks it
   questions about test clips it never saw, next to the true answers.
A model this small, trained this briefly, mostly guesses: the demo shows the machinery, not skill.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "recipes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="folder for the data, runs and checkpoints")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60, help="training steps per stage")


def run(args: argparse.Namespace) -> int:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers.utils import logging as hf_logging

    import modeling_hilight  # noqa: F401  (registers the Auto classes)

    from .billiards import make_dataset
    from .data import load_training_data
    from .train import parse, train

    logging.basicConfig(level=logging.WARNING)
    hf_logging.set_verbosity_error()
    out, start = Path(args.out), time.perf_counter()
    print(f"1/3 making {args.clips} billiards clips in {out / 'data'}")
    make_dataset(out / "data", args.clips, width=64, height=32, workers=2)

    runs = {}
    for stage, extra in (("encoder", []), ("align", ["--clip_vip_path", str(out / "encoder")]),
                         ("instruct", ["--model", str(out / "align")])):  # fmt: skip
        recipe, targs = parse(stage, str(RECIPES / f"{stage}_tiny.yaml"),
                              ["--data", str(out / "data"), "--output_dir", str(out / stage), "--max_steps",
                               str(args.steps), "--disable_tqdm", "true", *extra])  # fmt: skip
        trainer = train(stage, recipe, targs)
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        runs[stage] = losses
        print(f"2/3 {stage:8s} stage: loss {losses[0]:.3f} -> {sum(losses[-5:]) / 5:.3f} (mean of the last 5) "
              f"in {len(losses)} steps; loss curve {out / stage / 'loss_curve.png'}")  # fmt: skip

    merged = out / "instruct" / "merged"
    model = AutoModelForImageTextToText.from_pretrained(merged).eval()
    processor = AutoProcessor.from_pretrained(merged)
    test = load_training_data(out / "data")["test"]
    print(f"3/3 the merged model ({type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters) "
          f"answers questions about unseen test clips:")  # fmt: skip
    stop = [processor.tokenizer.convert_tokens_to_ids("<end_of_turn>"), processor.tokenizer.eos_token_id]
    for row in test:
        question = row["messages"][0]
        truth = row["messages"][1]["content"][0]["text"]
        prompt = processor.apply_chat_template([question], add_generation_prompt=True)
        inputs = processor(text=prompt, videos=[row["video"]])
        with torch.no_grad():
            tokens = model.generate(**inputs, max_new_tokens=16, do_sample=False, eos_token_id=stop, pad_token_id=0)
        answer = processor.tokenizer.decode(tokens[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        text = " ".join(b["text"] for b in question["content"] if b.get("type") == "text" and b.get("text"))
        print(f"    Q: {text}\n    model: {answer.strip()!r}   truth: {truth!r}")
    print(f"done in {time.perf_counter() - start:.0f} s; checkpoints in {out} (load {merged} with from_pretrained)")
    return 0
