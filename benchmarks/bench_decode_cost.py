"""Decode cost of HiLight after prefill, against the bare LLM with the same prompt length.

The vision towers and token mining run once, at prefill; each new token should then cost what it
costs the bare LLM. Per-token time = (time of generate(1 + N new) - time of generate(1 new)) / N,
interleaved medians, for a mid-size LLM (8 layers, width 512) and the tiny one.

    python benchmarks/bench_decode_cost.py [--new-tokens 32] [--repeats 5]
"""

import argparse
import statistics
import time

import torch
from transformers import AutoModelForCausalLM

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration

MID = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=8, num_attention_heads=8,
           num_key_value_heads=8, head_dim=64, vocab_size=8192)  # fmt: skip


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(name, text_config, new_tokens, repeats):
    torch.manual_seed(0)
    config = HiLightConfig.tiny(text_config=text_config, video_token_id=text_config.get("vocab_size", 128) - 1)
    model = HiLightForConditionalGeneration(config).eval()
    llm = AutoModelForCausalLM.from_config(config.text_config).eval()
    n = config.num_vision_tokens
    ids = torch.cat([torch.tensor([[2]]), torch.full((1, n), config.video_token_id), torch.arange(5, 25)[None]], 1)
    plain_ids = ids.masked_fill(ids == config.video_token_id, 7)
    videos = torch.randn(1, 12, 3, 32, 32)
    common = dict(do_sample=False, pad_token_id=0)

    def run(m, inputs, tokens):
        return lambda: m.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, **common)

    fns = [run(model, dict(input_ids=ids, pixel_values_videos=videos), 1),
           run(model, dict(input_ids=ids, pixel_values_videos=videos), 1 + new_tokens),
           run(llm, dict(input_ids=plain_ids), 1), run(llm, dict(input_ids=plain_ids), 1 + new_tokens)]  # fmt: skip
    with torch.inference_mode():
        for fn in fns:
            fn()  # warm-up
        times = [[] for _ in fns]
        for _ in range(repeats):
            for i, fn in enumerate(fns):
                times[i].append(timed(fn))
    med = [statistics.median(t) for t in times]
    hilight, bare = (med[1] - med[0]) / new_tokens, (med[3] - med[2]) / new_tokens
    print(f"{name}: prompt {ids.shape[1]} tokens ({n} vision); per new token HiLight {hilight * 1e3:.2f} ms, "
          f"bare LLM {bare * 1e3:.2f} ms")
    print(f"RATIO decode cost HiLight/bare LLM ({name}) = {hilight / bare:.3f} (goal <= 1.05 at mid size)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    measure("mid-size LLM (8 x 512)", MID, args.new_tokens, args.repeats)
    measure("tiny LLM (2 x 64)", {}, args.new_tokens, args.repeats)


if __name__ == "__main__":
    main()
