"""Peak memory: `hilight chat` with the bundled model, and a forward pass of HiLight-2B in bfloat16.

  --what chat              peak RSS of `hilight chat CLIP "question"` (the whole process: Python,
                           torch, transformers, the model, decoding and the answer), against the
                           peak RSS of a process that only imports what chat imports; the two take
                           turns, each its own process (`os.wait4` gives a child's peak RSS).
  --what hilight-2b-bf16   one forward pass of HiLight-2B (published shapes, random weights) built in
                           bfloat16, on a 12-frame video and a 30-token question: the process's peak
                           RSS during the pass (`torch.cuda.max_memory_allocated` on a GPU) against the
                           weights' bytes.

    python -m benchmarks.bench_memory --what chat|hilight-2b-bf16 [--model FOLDER] [--repeats 3]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from . import models
from .harness import PeakMemory, Row, Side, add_common_arguments, emit, parameter_bytes, set_threads

SCRIPT = "`benchmarks/bench_memory.py`"
IMPORTS = "import torch, transformers, av, decord, modeling_hilight, modeling_hilight.chat, modeling_hilight.processing"


def child_peak_rss(command: list[str], timeout: int = 600) -> int:
    """Peak RSS in bytes of a child process run to the end (Linux: ru_maxrss is in KiB)."""
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            out.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])}... failed ({process.returncode}): {out.read()[-2000:].decode()}")
    return usage.ru_maxrss * 1024


def chat_memory(args) -> Row:
    from modeling_hilight.bundled import ModelLoadError, bundled_folder

    what = "peak memory (RSS) of `hilight chat` with one question / of a process that only imports what it imports"
    key = "memory/chat" if args.model is None else f"memory/chat-{Path(args.model).name}"
    try:
        folder = Path(args.model) if args.model else bundled_folder("hilight")
    except ModelLoadError:
        return Row(key, f"{what} (the bundled model)", script=SCRIPT,
                   note="the bundled model is not in this checkout (`make bundled-model` builds it)")  # fmt: skip
    from modeling_hilight.training.billiards import load_billiards, make_dataset

    with tempfile.TemporaryDirectory() as work:
        make_dataset(Path(work) / "clips", 2, seed=5, workers=1, progress=False)
        clip = next(row["video"] for split in load_billiards(Path(work) / "clips").values() for row in split)
        chat = [sys.executable, "-c", "import sys; from modeling_hilight.cli import main; sys.exit(main())", "chat", clip,
                "How many balls are on the table?", "--model", str(folder), "--max-new-tokens", "32"]  # fmt: skip
        floor = [sys.executable, "-c", IMPORTS]
        peaks = {"chat": [], "imports": []}
        for _ in range(args.repeats):
            peaks["chat"].append(child_peak_rss(chat) / 1e6)
            peaks["imports"].append(child_peak_rss(floor) / 1e6)
    weights = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 1e6
    name = "the bundled model" if args.model is None else folder.name
    return Row(key, f"{what} ({name}, {weights:.1f} MB of weights)", Side("chat", peaks["chat"], "MB"),
               Side("imports only", peaks["imports"], "MB"), "", SCRIPT)  # fmt: skip


def forward_memory(args) -> Row:
    dtype = torch.bfloat16
    torch.set_default_dtype(dtype)  # built in bfloat16 from the start: no float32 copy is ever made
    model = models.hilight("smoke" if args.smoke else "gemma-2b", dtype).to(args.device)
    torch.set_default_dtype(torch.float32)
    ids, _ = models.prompt(model, args.device)
    videos = models.videos(model, device=args.device, dtype=dtype)
    peaks = []
    with torch.inference_mode():
        for _ in range(args.repeats):
            with PeakMemory(args.device) as peak:
                model(input_ids=ids, pixel_values_videos=videos, logits_to_keep=1)
            peaks.append(peak.peak / 1e9)
    weights = parameter_bytes(model) / 1e9
    where = "RSS" if args.device == "cpu" else "max_memory_allocated"
    return Row("memory/hilight-2b-bf16" + ("" if args.device == "cpu" else f"-{args.device}"),
               f"peak memory ({where}) of one forward pass of HiLight-2B in bfloat16 (12 frames, {ids.shape[1]} "
               f"tokens) / its weights", Side("forward", peaks, "GB"), Side("weights", [weights] * len(peaks), "GB"),
               "", SCRIPT)  # fmt: skip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--what", choices=["chat", "hilight-2b-bf16"], default="chat")
    parser.add_argument("--model", help="chat: a HiLight checkpoint folder instead of the bundled model")
    parser.add_argument("--repeats", type=int, default=None, help="default: 3 for chat, 1 for the forward pass")
    parser.add_argument("--device", default="cpu")
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    args.repeats = 1 if args.smoke else args.repeats or (3 if args.what == "chat" else 1)
    emit([chat_memory(args) if args.what == "chat" else forward_memory(args)], args)


if __name__ == "__main__":
    main()
