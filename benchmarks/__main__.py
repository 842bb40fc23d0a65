"""`python -m benchmarks` (`make bench`): every benchmark, one table.

Each benchmark script runs in its own process (its own memory peak, no state carried over), at
the sizes that fit in about 15 minutes on 2 CPU cores; `--full` (`make bench-full`) adds the
runs at the published sizes (Gemma-2B shapes), which take minutes each on a CPU. The rows go to
benchmarks/results.json (merged by key), benchmarks/results.md and the README's Performance
table; the first-token rows also give benchmarks/first_token_vs_llm.png (the ratio against the
LLM's size). A script that fails or runs out of time leaves its earlier rows as they were, is
named at the end, and makes the command exit with 1.

    python -m benchmarks [--full | --full-only] [--only NAME,...] [--smoke] [--threads 2]
                         [--results DIR] [--no-readme] [--list]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .harness import README, RESULTS_JSON, RESULTS_MD, Row, load_rows, write_results

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    name: str  # the key prefix of its rows
    module: str
    args: tuple[str, ...] = ()
    full: bool = False  # a published-size run: only with --full
    timeout: int = 600


RUNS = [
    Run("proxy_attention", "bench_proxy_attention", timeout=300),
    Run("decode_cost", "bench_decode_cost", timeout=300),
    Run("first_token", "bench_first_token", ("--llm", "mid"), timeout=600),
    Run("first_token", "bench_first_token", ("--llm", "gemma-2b"), full=True, timeout=1800),
    Run("first_token", "bench_first_token", ("--sweep",), full=True, timeout=1800),
    Run("video_llava", "bench_video_llava", ("--llm", "mid"), timeout=600),
    Run("video_llava", "bench_video_llava", ("--llm", "gemma-2b"), full=True, timeout=2400),
    Run("profile", "bench_profile", ("--llm", "mid"), timeout=600),
    Run("profile", "bench_profile", ("--llm", "gemma-2b"), full=True, timeout=1800),
    Run("batch", "bench_batch", ("--model", "bundled"), timeout=600),
    Run("batch", "bench_batch", ("--model", "mid"), full=True, timeout=1800),
    Run("memory", "bench_memory", ("--what", "chat"), timeout=600),
    Run("memory", "bench_memory", ("--what", "hilight-2b-bf16"), full=True, timeout=1800),
    Run("processing", "bench_processing", timeout=600),
    Run("training", "bench_training", timeout=600),
    Run("billiards", "bench_billiards", timeout=600),
]
ORDER = list(dict.fromkeys(run.name for run in RUNS))


def select(full: bool, full_only: bool, only: list[str] | None) -> list[Run]:
    unknown = set(only or []) - set(ORDER)
    if unknown:
        raise SystemExit(f"--only: unknown benchmark(s) {sorted(unknown)}; choose from {', '.join(ORDER)}")
    runs = [r for r in RUNS if (r.full if full_only else (full or not r.full))]
    return [r for r in runs if not only or r.name in only]


def run_one(run: Run, smoke: bool, threads: int | None) -> tuple[list[Row], str | None, float]:
    """(rows, why it failed or None, seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.json"
        command = [sys.executable, "-m", f"benchmarks.{run.module}", *run.args, "--json", str(out)]
        command += ["--smoke"] if smoke else []
        env = dict(os.environ)
        if threads:
            env["HILIGHT_BENCH_THREADS"] = str(threads)
        print(f"== python -m benchmarks.{run.module} {' '.join(run.args)}{' --smoke' if smoke else ''}", flush=True)
        start = time.perf_counter()
        try:
            process = subprocess.run(command, cwd=ROOT, env=env, timeout=run.timeout)
        except subprocess.TimeoutExpired:
            return [], f"ran past its {run.timeout} s limit", time.perf_counter() - start
        seconds = time.perf_counter() - start
        if process.returncode != 0:
            return [], f"exit code {process.returncode}", seconds
        if not out.exists():
            return [], "wrote no rows", seconds
        return [Row(**r) for r in json.loads(out.read_text())], None, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="add the published-size runs (minutes each on a CPU)")
    parser.add_argument("--full-only", action="store_true", help="only the published-size runs")
    parser.add_argument("--only", help="comma-separated benchmark names (see --list)")
    parser.add_argument("--smoke", action="store_true", help="trivial sizes: checks that every script runs")
    parser.add_argument("--threads", type=int, help="torch threads in each benchmark (default: torch's own)")
    parser.add_argument("--results", help="folder for results.json/.md (default: benchmarks/)")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument("--list", action="store_true", help="list the runs and exit")
    args = parser.parse_args(argv)
    runs = select(args.full, args.full_only, args.only.split(",") if args.only else None)
    if args.list:
        for run in RUNS:
            print(f"{run.name:16s} {'full ' if run.full else 'quick'} python -m benchmarks.{run.module} {' '.join(run.args)}")
        return 0
    folder = Path(args.results) if args.results else None
    json_path, md_path = (folder / "results.json", folder / "results.md") if folder else (RESULTS_JSON, RESULTS_MD)
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
    if args.smoke and folder is None:
        raise SystemExit("--smoke writes trivial-size figures: give it a --results folder, away from the real table")
    readme = None if args.no_readme or args.smoke else README
    failures, start = [], time.perf_counter()
    for run in runs:
        rows, failure, seconds = run_one(run, args.smoke, args.threads)
        if failure:
            failures.append(f"{run.module} {' '.join(run.args)}: {failure}")
            print(f"!! {failures[-1]}", flush=True)
            continue
        write_results(rows, ORDER, json_path, md_path, readme)  # after each run, so an interruption keeps the rest
        print(f"   {len(rows)} rows in {seconds:.0f} s", flush=True)
    from .bench_first_token import plot

    rows = load_rows(json_path)
    picture = json_path.parent / "first_token_vs_llm.png"
    if any(r.name == "first_token" for r in runs) and plot(rows, picture):
        print(f"   plot: {picture}")
    total = time.perf_counter() - start
    print(f"{len(runs) - len(failures)} of {len(runs)} runs in {total / 60:.1f} min; table: {md_path}"
          + ("" if readme is None else f" and {readme}"))  # fmt: skip
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
