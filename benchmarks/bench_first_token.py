"""Time to the first answer token: HiLight against a Video-LLaVA-style baseline, by LLM size.

Both run the same CLIP-ViP tower at the published size (ViT-B/16, 224 px, 12 frames) and the
same LLM (models.py). The baseline projects all 4 + 12 x 196 = 2,356 CLIP-ViP tokens into the
LLM with a two-layer MLP; HiLight also runs Long-CLIP-B on the 12 frames and token mining, and
gives the LLM 12 x 32 = 384 tokens. Time = generate(1 new token), i.e. towers + prefill, the
two taking turns, after one untimed call each.

    python -m benchmarks.bench_first_token [--llm mid|gemma-2b|WIDTH] [--repeats 3] [--device cuda --dtype bfloat16]
    python -m benchmarks.bench_first_token --sweep [--widths 256,384,512,768,1024]

`--sweep` measures Gemma-2B's shape scaled to each width (18 layers), one size after the other,
to find the crossover: the smallest LLM at which HiLight's first token comes sooner. `plot`
draws the ratio against the LLM's size from the results table (first_token_vs_llm.png).
"""

import argparse
from pathlib import Path

import torch

from . import models
from .harness import Row, Side, add_common_arguments, emit, interleaved, set_threads

SCRIPT = "`benchmarks/bench_first_token.py`"


def measure(llm, repeats: int, device: str, dtype: torch.dtype, key: str) -> Row:
    model = models.hilight(llm, dtype).to(device)
    baseline = models.VideoLlavaStyle(model).to(device)
    ids, text = models.prompt(model, device)
    videos = models.videos(model, device=device, dtype=dtype)
    kwargs = dict(max_new_tokens=1, do_sample=False, pad_token_id=0)

    def timer(fn):
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    with torch.inference_mode():
        t = interleaved({"hilight": lambda: model.generate(input_ids=ids, pixel_values_videos=videos, **kwargs),
                         "baseline": lambda: baseline.generate(text, videos, max_new_tokens=1)}, repeats, timer=timer)  # fmt: skip
    params = models.llm_parameters(model)
    where = str(dtype).replace("torch.", "")
    what = (f"time to first answer token, HiLight / Video-LLaVA-style baseline ({models.llm_label(llm)}, "
            f"{params / 1e6:,.0f} M parameters without embeddings; towers at published sizes, 12 frames, {where})")
    return Row(key, what, Side("HiLight", t["hilight"], "s"), Side("baseline", t["baseline"], "s"), "< 1", SCRIPT,
               note=f"vision tokens {model.config.num_vision_tokens} vs {baseline.vision_tokens()}",
               extra={"llm_parameters": params})  # fmt: skip


def plot(rows: list[Row], path: Path) -> bool:
    """The first-token ratio against the LLM's size, from the first_token rows that have one; False if
    there are fewer than two such rows."""
    points = sorted(((r.extra["llm_parameters"], r) for r in rows
                     if r.key.startswith("first_token/") and r.a is not None and "llm_parameters" in r.extra),
                    key=lambda point: point[0])  # rows of equal size keep their order; Rows do not compare
    if len(points) < 2:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import statistics

    x = [p / 1e6 for p, _ in points]
    y = [statistics.median(r.ratios) for _, r in points]
    low = [m - min(r.ratios) for m, (_, r) in zip(y, points)]
    high = [max(r.ratios) - m for m, (_, r) in zip(y, points)]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    ax.errorbar(x, y, yerr=[low, high], marker="o", capsize=3)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("LLM parameters without embeddings (millions)")
    ax.set_ylabel("first token, HiLight / baseline")
    ax.set_title("HiLight's first token is sooner below the line", fontsize=9)
    for xi, yi, (_, r) in zip(x, y, points):
        ax.annotate(r.key.split("/")[1], (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--llm", default="mid", help="mid, gemma-2b or a width (Gemma-2B's shape at that width)")
    parser.add_argument("--sweep", action="store_true", help="every width of --widths, one after the other")
    parser.add_argument("--widths", default="256,384,512,768,1024")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    dtype = getattr(torch, args.dtype)
    llms = [int(w) for w in args.widths.split(",")] if args.sweep else [args.llm]
    if args.smoke:
        llms, args.repeats = ["smoke"], 1
    rows = []
    for llm in llms:
        key = f"first_token/{'sweep-' if args.sweep else ''}{llm}" + ("" if args.device == "cpu" else f"-{args.device}")
        rows.append(measure(llm, args.repeats, args.device, dtype, key))
        print(f"{llm}: ratio {rows[-1].cells()[1]}", flush=True)
    if args.sweep:
        faster = [r for r in rows if max(r.ratios) < 1]
        if faster:
            faster[0].note += "; the smallest measured size where every repeat of HiLight was sooner"
    emit(rows, args)


if __name__ == "__main__":
    main()
