"""Trainer callbacks of every stage: skipped-sample accounting, the terminal's progress bar and log
files, and the loss-curve plot."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from transformers import TrainerCallback

logger = logging.getLogger(__name__)


class SkippedSamples:
    """Counts the samples whose video could not be decoded, with the file and the reason.

    The collator decodes each video once; a failure is recorded here and the sample leaves the
    batch. Nothing is dropped silently: each skip is logged when it happens, the count goes into
    the Trainer logs, and the list is saved as `skipped_samples.json` in the output folder.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.records: list[dict] = []

    def add(self, sample_id: str, path: str, reason: str) -> None:
        with self._lock:
            self.records.append({"id": sample_id, "video": path, "reason": reason})
        logger.warning("skipping sample %s: video %s cannot be decoded (%s)", sample_id, path, reason)

    @property
    def count(self) -> int:
        return len(self.records)

    def save(self, folder: str | os.PathLike, process_index: int = 0) -> Path:
        name = "skipped_samples.json" if process_index == 0 else f"skipped_samples.rank{process_index}.json"
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"count": self.count, "samples": self.records}, indent=2))
        return path


class SkippedSamplesCallback(TrainerCallback):
    """Puts the skip count into every log line and saves the list at the end of training."""

    def __init__(self, skipped: SkippedSamples):
        self.skipped = skipped

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None:
            logs["skipped_samples"] = self.skipped.count

    def on_train_end(self, args, state, control, **kwargs):
        path = self.skipped.save(args.output_dir, args.process_index)
        if self.skipped.count:
            logger.warning("%d samples were skipped; see %s", self.skipped.count, path)


class StageProgressCallback(TrainerCallback):
    """One progress bar per stage, with the latest loss beside it, in place of transformers' bar and
    its raw log dictionaries; every log entry goes to `output_dir/train_log.jsonl` as it comes, and
    the Trainer's whole state (`log_history` included) to `output_dir/trainer_state.json` at the end."""

    LOG_FILE = "train_log.jsonl"

    def __init__(self, stage: str):
        self.stage = stage
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            from tqdm.auto import tqdm

            Path(args.output_dir).mkdir(parents=True, exist_ok=True)
            if state.global_step == 0:  # a new run starts a new log; a resumed one continues it
                (Path(args.output_dir) / self.LOG_FILE).unlink(missing_ok=True)
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.stage, unit="step",
                            dynamic_ncols=True, disable=args.disable_tqdm)  # fmt: skip

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or logs is None:
            return
        entry = {"step": state.global_step, "epoch": state.epoch, **logs}
        with open(Path(args.output_dir) / self.LOG_FILE, "a") as log:
            log.write(json.dumps(entry) + "\n")
        if self.bar is not None:
            shown = {k: logs[k] for k in ("loss", "eval_loss") if k in logs}
            if shown:
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            state.save_to_json(str(Path(args.output_dir) / "trainer_state.json"))


def use_stage_progress(trainer, stage: str) -> None:
    """Swap transformers' terminal output (ProgressCallback's bar and log dicts, or PrinterCallback's
    dicts) for a StageProgressCallback."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(StageProgressCallback(stage))


def plot_loss_curve(log_history: list[dict], path: str | os.PathLike, title: str = "training loss") -> Path | None:
    """Write the train (and eval) loss against the step as a PNG; returns None without any loss logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    evals = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    if not train and not evals:
        return None
    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        axis.plot(*zip(*train), label="train loss")
    if evals:
        axis.plot(*zip(*evals), marker="o", label="eval loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


__all__ = ["SkippedSamples", "SkippedSamplesCallback", "StageProgressCallback", "plot_loss_curve", "use_stage_progress"]
