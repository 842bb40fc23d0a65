"""Decode cost of HiLight after prefill, against the bare LLM with the same prompt length.

The vision towers and token mining run once, at prefill; each new token should then cost what it
costs the bare LLM. Per-token time = (time of generate(1 + N new) - time of generate(1 new)) / N,
per repeat, interleaved, for a mid-size LLM (8 layers, width 512) and the tiny one.

    python -m benchmarks.bench_decode_cost [--new-tokens 32] [--repeats 5]
"""

import argparse

import torch
from transformers import AutoModelForCausalLM

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration

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

    def run(m, inputs, tokens):
        return lambda: m.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, **common)

    video = dict(input_ids=ids, pixel_values_videos=videos)
    with torch.inference_mode():
        t = interleaved({"h1": run(model, video, 1), "hN": run(model, video, 1 + new_tokens),
                         "b1": run(llm, dict(input_ids=plain_ids), 1),
                         "bN": run(llm, dict(input_ids=plain_ids), 1 + new_tokens)}, repeats)  # fmt: skip
    per_token = {side: [(long - one) / new_tokens * 1e3 for one, long in zip(t[f"{side}1"], t[f"{side}N"])]
                 for side in ("h", "b")}  # fmt: skip
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
