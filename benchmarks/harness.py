"""What the benchmarks share: interleaved timing, result rows, and the one results table.

A row compares two things, A and B, measured interleaved in one run (A, B, A, B, ...): its
ratio is A/B per repeat, reported as the median with the min and max, next to each side's own
figures. The rows of all runs are kept in `results.json` (merged by key, so that `make bench`
keeps the rows of `make bench-full`); `results.md` and the README's Performance table are
rendered from it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "results.md"
README = HERE.parent / "README.md"
README_BEGIN = "<!-- results table: begin (written by `python -m benchmarks` from benchmarks/results.md) -->"
README_END = "<!-- results table: end -->"
COLUMNS = ("what", "ratio A/B: median (min-max, n)", "A", "B", "goal", "machine", "date", "script")


# -- measuring ----------------------------------------------------------------------------------


def interleaved(fns: dict, repeats: int, warmup: int = 1, timer=None) -> dict[str, list[float]]:
    """Seconds of each function per repeat, the functions taking turns (a, b, c, a, b, c, ...),
    after `warmup` untimed calls of each. `timer` wraps a call (e.g. to synchronise a GPU)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn() if timer is None else timer(fn)
            times[name].append(time.perf_counter() - start)
    return times


def _status_bytes(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field_name}")


def _release_freed_memory() -> None:
    """Hand memory freed earlier back to the system (glibc keeps some), so a peak starts from what is in use."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory while the block runs: on a GPU `torch.cuda.max_memory_allocated` (reset on entry);
    on a CPU the process's peak RSS (Linux's VmHWM, reset on entry through /proc/self/clear_refs).
    `growth`: the peak minus what was in use on entry (on a CPU, RSS). Device "none": measures nothing."""

    def __init__(self, device: str = "cpu"):
        self.device = device

    def __enter__(self):
        import torch

        self.start = self.peak = self.growth = 0
        if self.device == "none":
            return self
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            _release_freed_memory()
            self.start = _status_bytes("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return self

    def __exit__(self, *exc):
        import torch

        if self.device == "none":
            return False
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.peak = _status_bytes("VmHWM")
        self.growth = self.peak - self.start
        return False


def parameter_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def machine() -> str:
    """A short name of where this runs: the CPU model and the threads torch uses, or the GPU."""
    import torch

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    name = re.sub(r"\((R|TM)\)|\bCPU\b|\bProcessor\b", "", name)
    return f"{' '.join(name.split())}, {torch.get_num_threads()} threads"


# -- rows ---------------------------------------------------------------------------------------


@dataclass
class Side:
    """One side of a comparison: its label and its values, one a repeat, in `unit`."""

    label: str
    values: list[float]
    unit: str = "s"

    def cell(self) -> str:
        return f"{self.label} {spread(self.values, self.unit)}"


@dataclass
class Row:
    """One line of the table. `a`/`b` None with a `note`: not measured, and the note says why."""

    key: str
    what: str
    a: Side | None = None
    b: Side | None = None
    goal: str = ""
    script: str = ""
    note: str = ""
    machine: str = ""
    date: str = ""
    ratios: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # figures a plot or a test reads, not shown in the table

    def __post_init__(self):
        if isinstance(self.a, dict):
            self.a = Side(**self.a)
        if isinstance(self.b, dict):
            self.b = Side(**self.b)
        if self.a is not None and self.b is not None and not self.ratios:
            if len(self.a.values) != len(self.b.values):
                raise ValueError(f"row {self.key}: A has {len(self.a.values)} values, B {len(self.b.values)}; "
                                 f"they must be paired repeats.")  # fmt: skip
            self.ratios = [x / y for x, y in zip(self.a.values, self.b.values)]
        if (self.a is None) != (self.b is None):
            raise ValueError(f"row {self.key}: give both sides or neither.")
        if self.a is None and not self.note:
            raise ValueError(f"row {self.key}: a row without figures needs a note saying why.")
        self.machine = self.machine or machine()
        self.date = self.date or date.today().isoformat()

    def cells(self) -> list[str]:
        what = f"{self.what} ({self.note})" if self.note and self.a is not None else self.what
        if self.a is None:
            return [what, f"not measured: {self.note}", "", "", self.goal, self.machine, self.date, self.script]
        return [what, ratio_cell(self.ratios), self.a.cell(), self.b.cell(), self.goal, self.machine, self.date,
                self.script]  # fmt: skip

    def to_dict(self) -> dict:
        return asdict(self)


def fmt(value: float) -> str:
    """Three significant figures (counts, given as ints, as they are), without an exponent for the sizes here."""
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def spread(values: list[float], unit: str = "") -> str:
    unit = f" {unit}" if unit else ""
    if len(values) == 1:
        return f"{fmt(values[0])}{unit}"
    return f"{fmt(statistics.median(values))}{unit} ({fmt(min(values))}-{fmt(max(values))})"


def ratio_cell(ratios: list[float]) -> str:
    if len(ratios) == 1:
        return f"**{fmt(ratios[0])}** (n=1)"
    return f"**{fmt(statistics.median(ratios))}** ({fmt(min(ratios))}-{fmt(max(ratios))}, n={len(ratios)})"


# -- the table ----------------------------------------------------------------------------------


def load_rows(path: Path = RESULTS_JSON) -> list[Row]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        return [Row(**r) for r in data["rows"]]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a results file written by `python -m benchmarks` ({error}).") from error


def merge(old: list[Row], new: list[Row], order: list[str]) -> list[Row]:
    """`old` with each row of `new` replacing the row of the same key; rows sorted by the position
    of their benchmark (the key's part before '/') in `order`, keeping their order within it."""
    fresh = {r.key: r for r in new}
    rows = [fresh.pop(r.key, r) for r in old] + list(fresh.values())

    def place(indexed):
        index, row = indexed
        group = row.key.split("/")[0]
        return (order.index(group) if group in order else len(order), index)

    return [row for _, row in sorted(enumerate(rows), key=place)]


def escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row]) -> str:
    """The markdown table of `rows`."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(escape(c) for c in row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def parse(table: str) -> list[list[str]]:
    """The cells of a markdown table written by `render`, a list a row (the header and the rule
    excluded); raises ValueError naming the line when a row has the wrong number of cells."""
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    if len(lines) < 2 or [c.strip() for c in split_row(lines[0])] != list(COLUMNS):
        raise ValueError(f"not a results table: the header is not {' | '.join(COLUMNS)}")
    rows = []
    for number, line in enumerate(lines[2:], 3):
        cells = [c.strip().replace("\\|", "|") for c in split_row(line)]
        if len(cells) != len(COLUMNS):
            raise ValueError(f"results table line {number} has {len(cells)} cells, not {len(COLUMNS)}: {line[:80]}")
        rows.append(cells)
    return rows


def split_row(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line.strip().strip("|"))


def readme_table(text: str) -> str:
    """The table between the README's markers."""
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"README.md has no results table markers ({README_BEGIN!r} ... {README_END!r}).")
    return text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip() + "\n"


def write_readme(table: str, readme: Path = README) -> None:
    text = readme.read_text()
    readme_table(text)  # the markers must be there
    before, rest = text.split(README_BEGIN, 1)
    after = rest.split(README_END, 1)[1]
    readme.write_text(f"{before}{README_BEGIN}\n{table}{README_END}{after}")


def write_results(rows: list[Row], order: list[str], json_path: Path = RESULTS_JSON, md_path: Path = RESULTS_MD,
                  readme: Path | None = README) -> list[Row]:  # fmt: skip
    """Merge `rows` into `json_path`, render `md_path` and copy the table into `readme`."""
    merged = merge(load_rows(json_path), rows, order)
    json_path.write_text(json.dumps({"rows": [r.to_dict() for r in merged]}, indent=1) + "\n")
    table = render(merged)
    md_path.write_text(table)
    if readme is not None:
        write_readme(table, readme)
    return merged


# -- the rows a benchmark script hands back -----------------------------------------------------


def emit(rows: list[Row], args) -> None:
    """Print the rows; with `--json FILE`, also write them there for `python -m benchmarks`."""
    for row in rows:
        cells = row.cells()
        print(f"ROW {row.key}: {cells[0]} | ratio {cells[1]} | {cells[2]} | {cells[3]}", flush=True)
    if getattr(args, "json", None):
        Path(args.json).write_text(json.dumps([r.to_dict() for r in rows]))


def add_common_arguments(parser) -> None:
    parser.add_argument("--json", help="also write the result rows to this file (used by `python -m benchmarks`)")
    parser.add_argument("--smoke", action="store_true", help="trivial sizes, one repeat: checks the script runs")


def set_threads() -> None:
    """Use the threads `HILIGHT_BENCH_THREADS` names (the runner sets it), else torch's default."""
    import torch

    threads = os.environ.get("HILIGHT_BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
