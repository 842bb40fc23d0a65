"""The table, the statements and the pictures from the runs' metrics.

`results[study][row][seed]` is what `Runner.row` returned (`metrics`, and for chat rows `align_curve`).
A cell is the mean over seeds with the range (min-max) beside it. Two rows differ only when their
seed ranges do not overlap; inside the spread it is "no difference", never a win. With one seed there
is no spread, so there is no verdict either.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from .studies import Claim, Study

BETTER, WORSE, SAME, NO_SPREAD, MISSING = "better", "worse", "same", "no spread", "missing"
NOT_RATES = {"align_loss", "encoder_loss", "instruct_loss", "vision_tokens"}


def spread(values: list) -> dict | None:
    """{"mean", "sd", "min", "max", "n", "values"} of the measured values (None ones left out)."""
    got = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not got:
        return None
    sd = statistics.stdev(got) if len(got) > 1 else 0.0
    return {"mean": statistics.fmean(got), "sd": sd, "min": min(got), "max": max(got), "n": len(got), "values": got}


def summarise(results: dict) -> dict:
    """results[study][row][seed] -> summary[study][row][metric] = spread over the seeds."""
    out = {}
    for study, rows in results.items():
        out[study] = {}
        for row, seeds in rows.items():
            metrics = sorted({m for r in seeds.values() for m, v in r["metrics"].items() if not isinstance(v, list)})
            out[study][row] = {m: spread([r["metrics"].get(m) for r in seeds.values()]) for m in metrics}
    return out


def compare(a: dict | None, b: dict | None, higher_is_better: bool = True) -> str:
    """Is `a` better than `b`? BETTER / WORSE only when the seed ranges do not overlap; SAME inside the
    spread; NO_SPREAD when either has fewer than 2 seeds (and they differ); MISSING without values."""
    if a is None or b is None:
        return MISSING
    if a["n"] < 2 or b["n"] < 2:
        return SAME if a["mean"] == b["mean"] else NO_SPREAD
    if a["min"] > b["max"]:
        return BETTER if higher_is_better else WORSE
    if a["max"] < b["min"]:
        return WORSE if higher_is_better else BETTER
    return SAME


def fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric == "vision_tokens":
        return f"{value:.0f}"
    if metric in NOT_RATES:
        return f"{value:.3f}"
    if metric == "qa_gap":
        return f"{100 * value:+.1f}"
    return f"{100 * value:.1f}"


def cell(metric: str, s: dict | None) -> str:
    if s is None:
        return "n/a"
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt(metric, s["mean"])
    return f"{fmt(metric, s['mean'])} ({fmt(metric, s['min'])}–{fmt(metric, s['max'])})"


PAPER_WORDS = {BETTER: "agrees with the paper", WORSE: "disagrees with the paper",
               SAME: "no difference within the seed spread", NO_SPREAD: "one seed, no spread: no verdict",
               MISSING: "not measured"}  # fmt: skip


def claim_statement(claim: Claim, summary: dict) -> str:
    """One line: the claim, the overall verdict, and each comparison with its means."""
    parts, verdicts = [], []
    best = summary.get(claim.best, {}).get(claim.metric)
    for other in claim.against:
        theirs = summary.get(other, {}).get(claim.metric)
        verdict = compare(best, theirs, claim.higher_is_better)
        verdicts.append(verdict)
        means = f"{fmt(claim.metric, best and best['mean'])} against {fmt(claim.metric, theirs and theirs['mean'])}"
        if claim.source == "paper":
            words = PAPER_WORDS[verdict]
        elif verdict in (BETTER, WORSE):
            higher = (verdict == BETTER) == claim.higher_is_better
            words = f"{claim.best} is {'higher' if higher else 'lower'} beyond the seed spread"
        else:
            words = PAPER_WORDS[verdict]
        parts.append(f"{claim.best} against {other}: {means}, {words}")
    if claim.source == "paper":
        if MISSING in verdicts:
            overall = "Not measured"
        elif NO_SPREAD in verdicts:
            overall = "No verdict (one seed)"
        elif all(v == BETTER for v in verdicts):
            overall = "Agrees with the paper"
        elif WORSE in verdicts:
            overall = "Disagrees with the paper"
        else:
            overall = "No difference within the seed spread"
        head = f"**Paper: {claim.text}.** {overall}"
    else:
        head = f"**Ours: {claim.text}.**"
    return f"{head} ({claim.metric}): " + "; ".join(parts) + "."


def per_type_statement(first: str, second: str, summary: dict) -> str:
    """Which question types `first` answers better than `second` (and the reverse) beyond the seed spread."""
    from modeling_hilight.training.billiards.text import QUESTION_TYPES

    verdicts: dict[str, list[str]] = {}
    for kind in QUESTION_TYPES:
        a, b = summary.get(first, {}).get(f"qa.{kind}"), summary.get(second, {}).get(f"qa.{kind}")
        if a is not None and b is not None:
            verdicts.setdefault(compare(a, b), []).append(kind)
    if not verdicts:
        return f"**Per question type, {first} against {second}:** not measured."
    if NO_SPREAD in verdicts:
        return f"**Per question type, {first} against {second}:** one seed, no spread: no verdict."
    parts = [f"{first} higher beyond the seed spread: {', '.join(verdicts.get(BETTER, [])) or 'none'}",
             f"{second} higher beyond the seed spread: {', '.join(verdicts.get(WORSE, [])) or 'none'}",
             f"no difference within the seed spread: {', '.join(verdicts.get(SAME, [])) or 'none'}"]  # fmt: skip
    return f"**Per question type, {first} against {second} (QA accuracy):** " + "; ".join(parts) + "."


def statements(study: Study, summary: dict) -> list[str]:
    out = [claim_statement(claim, summary) for claim in study.claims]
    if study.per_type:
        out.append(per_type_statement(*study.per_type, summary))
    return out


def study_columns(study: Study, summary: dict) -> list[tuple[str, str]]:
    columns = list(study.columns)
    if study.name == "towers":  # QA accuracy per question type
        from modeling_hilight.training.billiards.text import QUESTION_TYPES

        present = {m for row in summary.values() for m in row}
        columns += [(f"qa.{kind}", kind) for kind in QUESTION_TYPES if f"qa.{kind}" in present]
    return columns


def header(metric: str, title: str) -> str:
    if metric in NOT_RATES:
        return title
    return f"{title} (points)" if metric == "qa_gap" else f"{title} (%)"


def study_markdown(study: Study, summary: dict, picture: str | None) -> list[str]:
    columns = study_columns(study, summary)
    lines = [f"## {study.title}", ""]
    if study.note:
        lines += [study.note, ""]
    lines += ["| configuration | " + " | ".join(header(m, t) for m, t in columns) + " |",
              "|---|" + "---|" * len(columns)]  # fmt: skip
    for row in study.rows:
        values = summary.get(row.label)
        if values is None:
            continue
        lines.append(f"| {row.label} | " + " | ".join(cell(m, values.get(m)) for m, _ in columns) + " |")
    lines.append("")
    lines += [f"- {s}" for s in statements(study, summary)]
    if picture:
        lines += ["", f"![{study.title}]({picture})"]
    return lines + [""]


def markdown(studies: list[Study], summary: dict, *, command: str, date: str, budget: str, seeds: list[int],
             timing: str, pictures: dict[str, str], skipped: list[str]) -> str:  # fmt: skip
    lines = [
        "# HiLight ablations on the billiards world", "",
        f"- Command: `{command}`", f"- Date: {date}; {timing}.",
        f"- Budget {budget}.",
        f"- Seeds: {', '.join(map(str, seeds))} (each seed trains every stage anew on the same data set).",
        "- Cells: the mean over seeds, the range (min–max) beside it. A difference counts only when the seed "
        "ranges do not overlap; inside the spread it is \"no difference\", not a win. With one seed there is no "
        "spread and no verdict.",
    ]  # fmt: skip
    if skipped:
        lines.append(f"- Not run (time limit): {', '.join(skipped)}.")
    lines.append("")
    for study in studies:
        if study.name in summary:
            lines += study_markdown(study, summary[study.name], pictures.get(study.name))
    return "\n".join(lines)


# -- pictures ---------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bars(path: Path, groups: list[str], series: dict[str, list[dict | None]], ylabel: str, title: str,
         scale: float = 100.0) -> Path:  # fmt: skip
    """Grouped bars: `series[name][i]` is the spread of group i; error bars from min to max."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(max(5.0, 1.1 * len(groups) * max(1, len(series)) ** 0.5 + 2), 3.6), dpi=100)
    width = 0.8 / max(1, len(series))
    for k, (name, spreads) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(groups))]
        means = [scale * s["mean"] if s else 0.0 for s in spreads]
        # max(0, ...): the mean of equal values can land a rounding error outside their min and max
        low = [max(0.0, scale * (s["mean"] - s["min"])) if s else 0.0 for s in spreads]
        high = [max(0.0, scale * (s["max"] - s["mean"])) if s else 0.0 for s in spreads]
        axis.bar(xs, means, width, yerr=[low, high], capsize=3, label=name)
    axis.set_xticks(range(len(groups)))
    axis.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
    axis.set_ylim(0, max(1.0, axis.get_ylim()[1]))
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def loss_curves(path: Path, curves: dict[str, list[list[list[float]]]], title: str) -> Path:
    """Per label, the mean over seeds of the loss against the step, with the min-max band, on one axis."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 3.6), dpi=100)
    for label, runs in curves.items():
        steps = sorted({s for run in runs for s, _ in run})
        by_step = [[v for run in runs for s, v in run if s == step] for step in steps]
        mean = [statistics.fmean(v) for v in by_step]
        (line,) = axis.plot(steps, mean, label=f"{label} ({len(runs)} seed{'s' * (len(runs) > 1)})")
        if len(runs) > 1:
            axis.fill_between(steps, [min(v) for v in by_step], [max(v) for v in by_step], alpha=0.2,
                              color=line.get_color())  # fmt: skip
    axis.set_xlabel("alignment step")
    axis.set_ylabel("training loss")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def pictures(studies: list[Study], summary: dict, results: dict, out: Path) -> dict[str, str]:
    """One PNG per study in `out`; returns {study: file name}."""
    made = {}
    for study in studies:
        rows = [r.label for r in study.rows if r.label in summary.get(study.name, {})]
        if not rows:
            continue
        s = summary[study.name]
        name = f"{study.name}.png"
        if study.name == "token_mining":
            curves = {r: [seed["align_curve"] for seed in results[study.name][r].values()] for r in rows}
            loss_curves(out / name, curves, "Token mining: alignment-stage loss (mean over seeds, min–max band)")
        elif study.name == "towers":
            columns = [(m, t) for m, t in study_columns(study, s) if m.startswith("qa.")] + [("qa_accuracy", "all")]
            bars(out / name, [t for _, t in columns], {r: [s[r].get(m) for m, _ in columns] for r in rows},
                 "QA accuracy (%)", "QA accuracy per question type (error bars: min–max over seeds)")  # fmt: skip
        elif study.plot_metric in ("qa_accuracy",):
            bars(out / name, rows, {"with the clip": [s[r].get("qa_accuracy") for r in rows],
                                    "another clip (blind)": [s[r].get("qa_blind") for r in rows]},
                 "QA accuracy (%)", f"{study.title} (error bars: min–max over seeds)")  # fmt: skip
        else:
            bars(out / name, rows, {"hit rate": [s[r].get("hit_rate") for r in rows],
                                    "chance": [s[r].get("chance_rate") for r in rows]},
                 "grounding hit rate (%)", f"{study.title} (error bars: min–max over seeds)")  # fmt: skip
        made[study.name] = name
    return made


__all__ = ["compare", "claim_statement", "markdown", "pictures", "spread", "statements", "summarise"]
