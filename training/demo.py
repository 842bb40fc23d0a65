"""`hilight demo --train`: the whole pipeline on a fresh machine in about a minute, on CPU.

1. makes a small synthetic billiards data set (clips, captions, conversations, ground truth);
2. trains the paper's three stages at tiny size from the shipped recipes: the CLIP-ViP+ encoder
   (global + SPARC local loss), alignment (token mining only, with that encoder as the video
   tower), instruction tuning (TRL SFTTrainer + LoRA), and merges the LoRA; each stage shows one
   progress bar and one summary line, its full log is in its folder (train_log.jsonl,
   trainer_state.json);
3. reloads the merged checkpoint with `AutoModelForImageTextToText` / `AutoProcessor` and asks it
   questions about test clips it never saw, next to the true answers.
A model this small, trained this briefly, mostly guesses: this shows the machinery, not skill.
"""

from __future__ import annotations

import time
from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "recipes"


def train_demo(out: str | Path = "runs/demo", clips: int = 32, steps: int = 60) -> Path:
    """Data, three stages, the merged model answering test clips; returns the merged checkpoint folder."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import modeling_hilight  # noqa: F401  (registers the Auto classes)

    from ..evaluation import answer_settings
    from .billiards import make_dataset
    from .data import load_training_data
    from .train import parse, train

    out, start = Path(out), time.perf_counter()
    print(f"1/3 making {clips} billiards clips in {out / 'data'}")
    make_dataset(out / "data", clips, width=64, height=32, workers=2)

    for stage, extra in (("encoder", []), ("align", ["--clip_vip_path", str(out / "encoder")]),
                         ("instruct", ["--model", str(out / "align")])):  # fmt: skip
        recipe, targs = parse(stage, str(RECIPES / f"{stage}_tiny.yaml"),
                              ["--data", str(out / "data"), "--output_dir", str(out / stage), "--max_steps",
                               str(steps), "--disable_tqdm", "false", *extra])  # fmt: skip
        trainer = train(stage, recipe, targs)
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        tail = losses[-5:]
        print(f"2/3 {stage:8s} stage: loss {losses[0]:.3f} -> {sum(tail) / len(tail):.3f} (mean of the last "
              f"{len(tail)}) in {trainer.state.global_step} steps; log {out / stage / 'train_log.jsonl'}")  # fmt: skip

    merged = out / "instruct" / "merged"
    model = AutoModelForImageTextToText.from_pretrained(merged).eval()
    processor = AutoProcessor.from_pretrained(merged)
    test = load_training_data(out / "data")["test"]
    print(f"3/3 the merged model ({type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters) "
          f"answers questions about unseen test clips:")  # fmt: skip
    for row in test:
        question = row["messages"][0]
        truth = row["messages"][1]["content"][0]["text"]
        prompt = processor.apply_chat_template([question], add_generation_prompt=True)
        inputs = processor(text=prompt, videos=[row["video"]])
        with torch.no_grad():
            tokens = model.generate(**inputs, max_new_tokens=16, do_sample=False, **answer_settings(processor))
        answer = processor.tokenizer.decode(tokens[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        text = " ".join(b["text"] for b in question["content"] if b.get("type") == "text" and b.get("text"))
        print(f"    Q: {text}\n    model: {answer.strip()!r}   truth: {truth!r}")
    print(f"done in {time.perf_counter() - start:.0f} s; checkpoints in {out} (load {merged} with from_pretrained)")
    return merged
