"""HiLight against transformers' own VideoLlavaForConditionalGeneration: what a user would pick instead.

Both on the same LLM (models.py; `--llm gemma-2b` for Gemma-2B's shapes), each with its published
towers and frame count: HiLight CLIP-ViP-B/16 + Long-CLIP-B on 12 frames (384 vision tokens),
Video-LLaVA CLIP ViT-L/14 on 8 frames (2,056). Random weights, nothing downloaded. One
`generate(1 + N new tokens)` per repeat, the two taking turns; a streamer clocks each token:
  first token      the towers and the prefill
  decode           new tokens per second after the first
  peak memory      the weights (a real Video-LLaVA checkpoint holds two ViT-L/14 towers; both are
                   counted) plus the peak growth of the process's RSS (`torch.cuda.max_memory_allocated`
                   on a GPU) during the first timed call (after an untimed call of each).

    python -m benchmarks.bench_video_llava [--llm mid|gemma-2b] [--repeats 3] [--new-tokens N]
"""

import argparse

import torch

from . import models
from .harness import PeakMemory, Row, Side, add_common_arguments, emit, parameter_bytes, set_threads

SCRIPT = "`benchmarks/bench_video_llava.py`"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", default="mid")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, help="default: 8 at Gemma-2B's shapes, 16 otherwise")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    args.new_tokens = args.new_tokens or (8 if args.llm == "gemma-2b" else 16)
    if args.smoke:
        args.llm, args.repeats, args.new_tokens = "smoke", 1, 2
    dtype, device = getattr(torch, args.dtype), args.device
    hilight = models.hilight(args.llm, dtype).to(device)
    llava, llava_parameters = models.video_llava(hilight)
    llava.to(device)
    ids, text = models.prompt(hilight, device)
    llava_ids = models.video_llava_prompt(llava, text)
    size = llava.config.vision_config.image_size
    inputs = {
        "HiLight": dict(input_ids=ids, pixel_values_videos=models.videos(hilight, device=device, dtype=dtype)),
        "Video-LLaVA": dict(input_ids=llava_ids, pixel_values_videos=torch.randn(1, llava.num_frames, 3, size, size,
                                                                                 device=device, dtype=dtype)),
    }  # fmt: skip
    run = {"HiLight": hilight, "Video-LLaVA": llava}
    tokens = 1 + args.new_tokens

    def call(name):
        clock = models.TokenClock()
        run[name].generate(**inputs[name], max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                           pad_token_id=0, streamer=clock)  # fmt: skip
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return clock

    growth = {}
    first = {name: [] for name in run}
    rate = {name: [] for name in run}
    with torch.inference_mode():
        for name in run:
            call(name)  # untimed
        for repeat in range(args.repeats):
            for name in run:
                with PeakMemory(device if repeat == 0 else "none") as peak:
                    clock = call(name)
                growth.setdefault(name, peak.growth)
                first[name].append(clock.first_token())
                rate[name].append(1 / clock.per_token())
    element = torch.finfo(dtype).bits // 8
    gb = {"HiLight": (parameter_bytes(hilight) + growth["HiLight"]) / 1e9,
          "Video-LLaVA": (llava_parameters * element + growth["Video-LLaVA"]) / 1e9}  # fmt: skip
    weights = {"HiLight": parameter_bytes(hilight) / 1e9, "Video-LLaVA": llava_parameters * element / 1e9}
    label = f"{models.llm_label(args.llm)}, {args.dtype}"
    suffix = args.llm if device == "cpu" else f"{args.llm}-{device}"
    rows = [
        Row(f"video_llava/{suffix}/first-token", f"time to first answer token, HiLight (12 frames) / transformers' "
            f"VideoLlavaForConditionalGeneration (CLIP ViT-L/14, 8 frames) ({label})",
            Side("HiLight", first["HiLight"], "s"), Side("Video-LLaVA", first["Video-LLaVA"], "s"), "< 1", SCRIPT),
        Row(f"video_llava/{suffix}/decode", f"decode speed after the first token, HiLight / Video-LLaVA ({label}, "
            f"{args.new_tokens} tokens)", Side("HiLight", rate["HiLight"], "tok/s"),
            Side("Video-LLaVA", rate["Video-LLaVA"], "tok/s"), ">= 1", SCRIPT),
        Row(f"video_llava/{suffix}/vision-tokens", "vision tokens per video, HiLight / Video-LLaVA",
            Side("HiLight", [hilight.config.num_vision_tokens], ""),
            Side("Video-LLaVA", [llava_ids.shape[1] - text.shape[1]], ""), "", SCRIPT),
        Row(f"video_llava/{suffix}/memory", f"peak memory of generate: weights + peak RSS growth, HiLight / Video-LLaVA "
            f"({label})", Side("HiLight", [gb["HiLight"]], "GB"), Side("Video-LLaVA", [gb["Video-LLaVA"]], "GB"), "",
            SCRIPT, note=f"weights {weights['HiLight']:.2f} GB vs {weights['Video-LLaVA']:.2f} GB"),
    ]  # fmt: skip
    emit(rows, args)


if __name__ == "__main__":
    main()
