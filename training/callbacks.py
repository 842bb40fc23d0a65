"""Trainer callbacks of every stage: skipped-sample accounting and the loss-curve plot."""

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


__all__ = ["SkippedSamples", "SkippedSamplesCallback", "plot_loss_curve"]
