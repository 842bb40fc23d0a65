"""Decode cost of HiLight after prefill, against the bare LLM with the same prompt length.

The vision towers and token mining run once, at prefill; each new token should then cost what it
costs the bare LLM. Per-token time: one generate(1 + N new tokens) a repeat, a streamer clocking
each token, (time of the last - time of the first) / N; the two models take turns. For a mid-size
LLM (8 layers, width 512) and the tiny one.

    python -m benchmarks.bench_decode_cost [--new-tokens 32] [--repeats 5]
"""

import argparse

import torch
from transformers import AutoModelForCausalLM

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration

from . import models
from .harness import Row, Side, add_common_arguments, emit, interleaved, set_threads

MID = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=8, num_attention_heads=8,
           num_key_value_heads=8, head_dim=64, vocab_size=8192)  # fmt: skip
SCRIPT = "`benchmarks/bench_decode_cost.py`"


def measure(key, name, text_config, new_tokens, repeats, goal=""):
    torch.manual_seed(0)
    config = HiLightConfig.tiny(text_config=text_config, video_token_id=text_config.get("vocab_size", 128) - 1)
    model = HiLightForConditionalGeneration(config).eval()
    llm = AutoModelForCausalLM.from_config(config.text_config).eval()
    n = config.num_vision_tokens
    ids = torch.cat([torch.tensor([[2]]), torch.full((1, n), config.video_token_id), torch.arange(5, 25)[None]], 1)
    plain_ids = ids.masked_fill(ids == config.video_token_id, 7)
    videos = torch.randn(1, 12, 3, 32, 32)
    common = dict(do_sample=False, pad_token_id=0)

    per_token = {"h": [], "b": []}

    def run(side, m, inputs):
        def call():
            clock = models.TokenClock()
            m.generate(**inputs, max_new_tokens=1 + new_tokens, min_new_tokens=1 + new_tokens, streamer=clock, **common)
            per_token[side].append(clock.per_token() * 1e3)
        return call

    with torch.inference_mode():
        interleaved({"h": run("h", model, dict(input_ids=ids, pixel_values_videos=videos)),
                     "b": run("b", llm, dict(input_ids=plain_ids))}, repeats, warmup=1)  # fmt: skip
    per_token = {side: values[1:] for side, values in per_token.items()}  # without the untimed first call
    return Row(key, f"decode cost per new token, HiLight / bare LLM, same prompt length ({ids.shape[1]} tokens, "
               f"{n} vision; {name})", Side("HiLight", per_token["h"], "ms"), Side("bare LLM", per_token["b"], "ms"),
               goal, SCRIPT)  # fmt: skip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    if args.smoke:
        args.new_tokens, args.repeats = 2, 1
    rows = [measure("decode_cost/mid", "mid-size LLM 8 x 512", {} if args.smoke else MID, args.new_tokens, args.repeats,
                    "<= 1.05"),
            measure("decode_cost/tiny", "tiny LLM 2 x 64, where a step's fixed Python work shows", {}, args.new_tokens,
                    args.repeats)]  # fmt: skip
    emit(rows, args)


if __name__ == "__main__":
    main()
