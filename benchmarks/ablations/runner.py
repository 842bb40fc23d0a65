"""Train and measure one configuration through the package's own stages (`training.train`: parse, build,
train, finish) and evaluation (`evaluation.evaluate_*`). A finished stage run leaves `result.json` in its
folder, named by a hash of everything that decides it, and is reused: a row shared by two studies
trains once, and an interrupted table continues where it stopped."""

from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from modeling_hilight.evaluation import evaluate_grounding, evaluate_qa, evaluate_retrieval
from modeling_hilight.training.billiards import load_billiards, make_dataset
from modeling_hilight.training.bundle import RECIPES, frame_statistics
from modeling_hilight.training.train import build, finish, parse

from .studies import CHAT_ENCODER, Budget, Row

DATA_SEED = 7  # the data set's seed (the bundled model's); the table's seeds are training seeds
SIZE_KEYS = {"encoder": ("patch_size", "vision_width", "vision_layers", "text_width", "projection_dim"),
             "align": ("llm_width", "llm_layers"), "instruct": ()}  # fmt: skip


@dataclass
class Context:
    out: Path
    budget: Budget
    data: Path
    mean: list[float]
    std: list[float]
    dataset: object  # the DatasetDict, for evaluation


def prepare(out: Path, budget: Budget, log=print) -> Context:
    """The budget's billiards data set under `out` (made once) and its frame statistics."""
    data = out / f"data-{budget.clips}-seed{DATA_SEED}"
    if not (data / "dataset_dict.json").exists():
        start = time.perf_counter()
        make_dataset(data, budget.clips, seed=DATA_SEED, width=128, height=64, workers=2, progress=False)
        log(f"data: {budget.clips} clips in {data} ({time.perf_counter() - start:.0f} s)")
    stats = data / f"frame_statistics-{budget.image_size}px-{budget.num_frames}f-{budget.statistics_clips}.json"
    if not stats.exists():
        mean, std = frame_statistics(data, budget.image_size, budget.num_frames, clips=budget.statistics_clips)
        stats.write_text(json.dumps({"mean": mean, "std": std}))
    values = json.loads(stats.read_text())
    return Context(out, budget, data, values["mean"], values["std"], load_billiards(data))


def stage_overrides(stage: str, ctx: Context, seed: int, changes: dict) -> dict:
    """What a stage run sets on top of `bundled_{stage}.yaml`: the budget, the data, the seed, the row."""
    b = ctx.budget
    steps = {"encoder": b.encoder_steps, "align": b.align_steps, "instruct": b.instruct_steps}[stage]
    values = {"num_frames": b.num_frames, "image_size": b.image_size, "per_device_train_batch_size": b.batch_size,
              "max_steps": steps, "logging_steps": max(1, steps // 20), "seed": seed, "data": str(ctx.data), "image_mean": ctx.mean,
              "image_std": ctx.std, "disable_tqdm": True}  # fmt: skip
    values.update({k: v for k, v in b.model.items() if k in SIZE_KEYS[stage]})
    if stage != "encoder":
        values["qa_curve_every"] = 0  # the table measures QA itself, once, on the test split
    values.update(changes)
    return values


def run_key(stage: str, recipe_values: dict, parent: str | None, budget: Budget) -> str:
    """A hash of the recipe a run trains with (the YAML and its overrides merged, paths left out),
    the run it starts from and the data."""
    recipe = yaml.safe_load((RECIPES / f"bundled_{stage}.yaml").read_text())
    paths = ("output_dir", "clip_vip_path", "model", "data", "language_model_from", "tokenizer")
    merged = {**recipe, **{k: v for k, v in recipe_values.items() if k not in paths}}
    text = json.dumps({"stage": stage, "recipe": merged, "parent": parent, "clips": budget.clips, "data_seed": DATA_SEED},
                      sort_keys=True)  # fmt: skip
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def train_stage(stage: str, values: dict):
    """(trainer, processor, seconds): one stage from its bundled recipe and `values`, saved to output_dir."""
    flat = [x for k, v in values.items() if v is not None
            for x in (f"--{k}", json.dumps(v) if isinstance(v, (list, dict)) else str(v))]  # fmt: skip
    recipe, args = parse(stage, str(RECIPES / f"bundled_{stage}.yaml"), flat)
    start = time.perf_counter()
    trainer, processor, _ = build(stage, recipe, args)
    trainer.train()
    finish(stage, recipe, trainer, processor)
    return trainer, processor, time.perf_counter() - start


def loss_curve(trainer) -> list[list[float]]:
    return [[e["step"], round(e["loss"], 5)] for e in trainer.state.log_history if "loss" in e and "step" in e]


def encoder_metrics(model, processor, ctx: Context) -> dict:
    model.eval()
    retrieval = evaluate_retrieval(model, processor, ctx.dataset, pool=ctx.budget.pool)
    grounding = evaluate_grounding(model, processor, ctx.dataset, max_clips=ctx.budget.pool)
    return {
        "t2v_R@1": retrieval["text_to_video"]["R@1"], "t2v_R@5": retrieval["text_to_video"]["R@5"],
        "v2t_R@1": retrieval["video_to_text"]["R@1"], "v2t_R@5": retrieval["video_to_text"]["R@5"],
        "retrieval_chance_R@1": retrieval["chance"]["R@1"], "retrieval_pool": retrieval["pool"],
        "hit_rate": grounding["hit_rate"], "chance_rate": grounding["chance_rate"],
        "any_ball_rate": grounding["any_ball_rate"], "grounding_pairs": grounding["pairs"],
    }  # fmt: skip


def qa_metrics(model, processor, ctx: Context) -> dict:
    model.eval()
    qa = evaluate_qa(model, processor, ctx.dataset, max_questions=ctx.budget.questions)
    out = {"qa_accuracy": qa["accuracy"], "qa_blind": qa.get("blind_accuracy"), "qa_gap": qa.get("gap"),
           "qa_majority": qa.get("majority_accuracy"), "qa_questions": qa["questions"]}  # fmt: skip
    out.update({f"qa.{kind}": block["accuracy"] for kind, block in qa["per_type"].items()})
    out.update({f"qa_questions.{kind}": block["questions"] for kind, block in qa["per_type"].items()})
    out["qa_samples"] = [{k: r[k] for k in ("question", "truth", "answer", "blind_answer") if k in r}
                         for r in qa["records"][:3]]  # fmt: skip
    return out


PARENT_FIELDS = {"encoder": ("clip_vip_path",), "language_model": ("language_model_from", "tokenizer"),
                 "align": ("model",)}  # fmt: skip
LANGUAGE_MODEL = {"blank_tower": "both", "query_grounding_loss_weight": 0.0, "train_language_model": True}
LM_SEED = 0  # one blind language model for every seed of the table, as the paper has one pretrained Gemma


class Runner:
    """Runs rows for seeds; `results` collects every stage run's result (also those reused).

    A chat row trains on two shared runs: the bundled encoder of its seed (the video tower) and one
    blind language model for the whole table (the bundled align stage, batch and all, with both towers
    given zeros and new tiny towers, so the LLM learns the language and the answers' priors but never
    sees a clip; budget.lm_steps, seed LM_SEED). The row's align then trains token mining alone under
    that frozen LLM, as the paper's stage 1 does under its one pretrained Gemma, and its instruct stage
    is the bundled one."""

    def __init__(self, ctx: Context, log=print):
        self.ctx, self.log = ctx, log
        self.results: dict[str, dict] = {}
        self.reused: set[str] = set()  # keys of the runs an earlier invocation finished

    def _stage(self, stage: str, changes: dict, seed: int, parents: dict[str, dict], measure, label: str,
               steps: int | None = None) -> dict:  # fmt: skip
        values = stage_overrides(stage, self.ctx, seed, changes)
        if steps is not None:
            values.update(max_steps=steps, logging_steps=max(1, steps // 20))
        parent_keys = "+".join(f"{kind}:{parents[kind]['key']}" for kind in sorted(parents)) or None
        key = run_key(stage, values, parent_keys, self.ctx.budget)
        folder = self.ctx.out / "runs" / f"{stage}-{key}-seed{seed}"
        done = folder / "result.json"
        if done.exists():
            if key not in self.results:  # not trained by this invocation
                self.reused.add(key)
            result = json.loads(done.read_text())
            self.results[key] = result
            return result
        for kind, parent in parents.items():
            values.update({name: parent["dir"] for name in PARENT_FIELDS[kind]})
        values["output_dir"] = str(folder)
        trainer, processor, seconds = train_stage(stage, values)
        start = time.perf_counter()
        metrics = measure(trainer.model, processor)
        curve = loss_curve(trainer)
        metrics[f"{stage}_loss"] = curve[-1][1] if curve else None
        if stage == "align":
            metrics["vision_tokens"] = trainer.model.config.num_vision_tokens
        result = {"stage": stage, "key": key, "seed": seed, "parents": parent_keys, "dir": str(folder),
                  "first_label": label, "changes": changes, "train_seconds": round(seconds, 1),
                  "eval_seconds": round(time.perf_counter() - start, 1), "loss_curve": curve, "metrics": metrics}  # fmt: skip
        done.write_text(json.dumps(result, indent=1))
        self.results[key] = result
        shown = {k: v for k, v in metrics.items() if k in ("t2v_R@1", "hit_rate", "align_loss", "qa_accuracy", "qa_blind")}
        self.log(f"  {stage:8s} {label} · seed {seed}: {seconds:.0f} s training, {result['eval_seconds']:.0f} s "
                 f"measuring; {json.dumps(shown)}")  # fmt: skip
        del trainer
        gc.collect()
        return result

    def encoder(self, changes: dict, seed: int, label: str) -> dict:
        return self._stage("encoder", changes, seed, {}, lambda m, p: encoder_metrics(m, p, self.ctx), label)

    def language_model(self) -> dict:
        batch = yaml.safe_load((RECIPES / "bundled_align.yaml").read_text())["per_device_train_batch_size"]
        return self._stage("align", {**LANGUAGE_MODEL, "per_device_train_batch_size": batch}, LM_SEED, {},
                           lambda m, p: {}, "blind language model", steps=self.ctx.budget.lm_steps)  # fmt: skip

    def row(self, row: Row, seed: int) -> dict:
        """The metrics of `row` at `seed` (and, for chat rows, the align loss curve)."""
        if not row.chat:
            result = self.encoder(row.encoder, seed, row.label)
            return {"metrics": result["metrics"], "runs": [result["key"]], "seconds": _seconds(result)}
        encoder, lm = self.encoder(CHAT_ENCODER, seed, "bundled encoder"), self.language_model()
        blank = {"blank_tower": row.blank_tower} if row.blank_tower != "none" else {}
        align = self._stage("align", {**row.align, **blank, "train_language_model": False}, seed,
                            {"encoder": encoder, "language_model": lm}, lambda m, p: {}, row.label)  # fmt: skip
        # a row that sets the query grounding loss (off for clip-wide token mining) sets it for instruct too
        carried = {k: row.align[k] for k in ("query_grounding_loss_weight",) if k in row.align}
        instruct = self._stage("instruct", {**blank, **carried}, seed, {"align": align},
                               lambda m, p: qa_metrics(m, p, self.ctx), row.label)  # fmt: skip
        metrics = {**align["metrics"], **instruct["metrics"]}
        return {"metrics": metrics, "runs": [encoder["key"], lm["key"], align["key"], instruct["key"]],
                "align_curve": align["loss_curve"], "seconds": _seconds(align) + _seconds(instruct)}  # fmt: skip


def _seconds(result: dict) -> float:
    return result["train_seconds"] + result["eval_seconds"]


__all__ = ["Context", "Runner", "prepare", "run_key", "stage_overrides"]
