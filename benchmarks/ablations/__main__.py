"""`python -m benchmarks.ablations [--budget small|full] [--seeds 3] [--studies ...] [--out DIR]`

Trains every configuration of the chosen studies at the budget's size and steps, once per seed, through
the package's own stages, measures it, and writes to DIR: `ablations.md` (the table with the command,
date and budget, and the statements), `ablations.json` (every run and the summary) and a PNG per
study. Run from the repository root. Finished runs are kept in DIR/runs and reused.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from .studies import BUDGETS, STUDIES, select


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ablations", description=__doc__.split("\n")[0])
    parser.add_argument("--budget", default="small", choices=list(BUDGETS),
                        help="size and steps of every configuration (smoke: the test's, seconds)")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3, help="training seeds 0..N-1 (default 3)")
    parser.add_argument("--studies", nargs="+", default=["all"], metavar="STUDY",
                        help=f"any of {', '.join(STUDIES)}, or all (default)")  # fmt: skip
    parser.add_argument("--out", default="runs/ablations", help="folder for the table, JSON, pictures and runs")
    parser.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                        help="start no new study after this many minutes; finished runs are kept")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="print the configurations and exit")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    try:
        args.selected = select(args.studies)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    budget, seeds, out = BUDGETS[args.budget], list(range(args.seeds)), Path(args.out)
    if args.list:
        print(f"budget {budget.describe()}; seeds {seeds}")
        for study in args.selected:
            print(f"{study.name}: " + "; ".join(row.label for row in study.rows))
        return 0
    import datasets
    import transformers

    from modeling_hilight.cli import quiet_libraries

    from .report import markdown, pictures, summarise
    from .runner import Runner, prepare

    quiet_libraries()
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    ctx = prepare(out, budget)
    runner = Runner(ctx)
    results, skipped = {}, []
    for study in args.selected:
        minutes = (time.perf_counter() - start) / 60
        if args.time_limit is not None and minutes >= args.time_limit:
            skipped.append(study.name)
            continue
        print(f"{study.name} ({minutes:.1f} min so far)", flush=True)
        results[study.name] = {row.label: {seed: runner.row(row, seed) for seed in seeds} for row in study.rows}
    done = [s for s in args.selected if s.name in results]
    summary = summarise(results)
    made = pictures(done, summary, results, out)
    command = "python -m benchmarks.ablations " + shlex.join(argv if argv is not None else sys.argv[1:])
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    seconds = time.perf_counter() - start
    runs = list(runner.results.values())
    timing = (f"{len(runs)} stage runs, {sum(r['train_seconds'] + r['eval_seconds'] for r in runs) / 60:.1f} min of "
              f"training and measuring ({len(runner.reused)} of them finished by an earlier invocation in this "
              f"folder); this invocation {seconds / 60:.1f} min on this machine")  # fmt: skip
    text = markdown(done, summary, command=command.strip(), date=date, budget=budget.describe(), seeds=seeds,
                    timing=timing, pictures=made, skipped=skipped)  # fmt: skip
    (out / "ablations.md").write_text(text)
    report = {"command": command.strip(), "date": date, "budget": budget.__dict__, "seeds": seeds,
              "seconds": round(seconds, 1), "studies": [s.name for s in done], "skipped": skipped,
              "results": results, "summary": summary, "runs": runs}  # fmt: skip
    (out / "ablations.json").write_text(json.dumps(report, indent=1))
    print(text)
    print(f"wrote {out / 'ablations.md'}, {out / 'ablations.json'} and {len(made)} PNG(s) in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
