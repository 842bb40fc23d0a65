"""Where HiLight's time to first token goes: CLIP-ViP+, Long-CLIP, token mining and the LLM's prefill.

HiLight at the published tower sizes (12 frames of 224 px) with `--llm mid` or `gemma-2b`
(models.py). Each part is a `torch.profiler` range opened and closed by forward hooks on its
module; one `generate(1 new token)` per repeat under the profiler, after an untimed call. A row
gives a part's time against the whole call's, both from the same profile.

Then the fix, before and after, without the profiler: Long-CLIP's last layer for the CLS token
alone (`LongCLIPVisionModel.cls_only`, the same embeddings) against the full last layer.

    python -m benchmarks.bench_profile [--llm mid|gemma-2b] [--repeats 3] [--top 12]
"""

import argparse

import torch
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile

from . import models
from .harness import Row, Side, add_common_arguments, emit, interleaved, set_threads

SCRIPT = "`benchmarks/bench_profile.py`"


def parts(model) -> dict:
    inner = model.model
    return {"CLIP-ViP+": [inner.clip_vip], "Long-CLIP": [inner.long_clip], "token mining": [inner.token_mining],
            "prefill (LLM and its head)": [inner.language_model, model.lm_head]}  # fmt: skip


def label_parts(model) -> list:
    """Forward hooks that put each part's forward in a profiler range named after the part."""
    handles = []
    for name, modules in parts(model).items():
        for module in modules:
            def enter(module, args, name=name):
                module._bench_range = record_function(name)
                module._bench_range.__enter__()

            def leave(module, args, output):
                module._bench_range.__exit__(None, None, None)

            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    return handles


def profiled_first_token(model, ids, videos):
    """{part: ms} and the whole call's ms, from one profiled generate(1 new token)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("first token"):
            model.generate(input_ids=ids, pixel_values_videos=videos, max_new_tokens=1, do_sample=False, pad_token_id=0)
    totals = {e.key: e.cpu_time_total / 1e3 for e in prof.key_averages()}
    return {name: totals.get(name, 0.0) for name in parts(model)}, totals["first token"], prof


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", default="mid")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="print the costliest operators of the last profile")
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    if args.smoke:
        args.llm, args.repeats = "smoke", 1
    model = models.hilight(args.llm)
    ids, _ = models.prompt(model)
    videos = models.videos(model)
    handles = label_parts(model)
    times = {name: [] for name in parts(model)}
    totals = []
    with torch.inference_mode():
        model.generate(input_ids=ids, pixel_values_videos=videos, max_new_tokens=1, do_sample=False, pad_token_id=0)
        for _ in range(args.repeats):
            ms, total, prof = profiled_first_token(model, ids, videos)
            for name in times:
                times[name].append(ms[name])
            totals.append(total)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    other = [total - sum(ms[i] for ms in times.values()) for i, total in enumerate(totals)]
    times["other (generate's own work, embeddings, masks)"] = other
    label = models.llm_label(args.llm)
    for handle in handles:
        handle.remove()
    long_clip = model.model.long_clip

    def first_token(cls_only):
        def run():
            long_clip.cls_only = cls_only
            model.generate(input_ids=ids, pixel_values_videos=videos, max_new_tokens=1, do_sample=False, pad_token_id=0)
        return run

    with torch.inference_mode():
        fix = interleaved({"after": first_token(True), "before": first_token(False)}, args.repeats)
    rows = [Row(f"profile/{args.llm}/{name.split(' ')[0].lower()}", f"share of HiLight's first token: {name} ({label}, "
                f"torch.profiler)", Side(name.split(" (")[0], ms, "ms"), Side("first token", totals, "ms"), "", SCRIPT)
            for name, ms in times.items()]  # fmt: skip
    rows.append(Row(f"profile/{args.llm}/fix-long-clip-cls", f"HiLight's first token with Long-CLIP's last layer for CLS "
                    f"alone / the full last layer, the same embeddings ({label})", Side("after", fix["after"], "s"),
                    Side("before", fix["before"], "s"), "< 1", SCRIPT))  # fmt: skip
    emit(rows, args)


if __name__ == "__main__":
    main()
