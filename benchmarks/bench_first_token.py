"""Time to the first answer token: HiLight against a Video-LLaVA-style baseline.

Both are built in this script from the same towers at the published sizes (CLIP-ViP ViT-B/16 at
224 px, 12 frames; Long-CLIP-B) and the same mid-size LLM (8 layers, width 512). The baseline
projects all 4 + 12 x 196 = 2356 CLIP-ViP tokens into the LLM with a two-layer MLP; HiLight runs
both towers and token mining and gives the LLM 12 x 32 = 384 tokens. Time = generate(1 new
token), i.e. towers + prefill; interleaved medians.

    python benchmarks/bench_first_token.py [--repeats 3] [--llm mid|gemma-2b] [--device cuda] [--dtype bfloat16]

`--llm gemma-2b` uses the published LLM shapes (random weights), where the prefill of 1972 extra
tokens weighs more; it needs about 10 GB in float32.
"""

import argparse
import statistics
import time

import torch
from torch import nn

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration

MID = dict(model_type="gemma", hidden_size=512, intermediate_size=2048, num_hidden_layers=8, num_attention_heads=8,
           num_key_value_heads=8, head_dim=64, vocab_size=8192, max_position_embeddings=4096)  # fmt: skip


class VideoLlavaStyle(nn.Module):
    """The same CLIP-ViP tower and LLM, every CLIP-ViP token projected by an MLP (no token mining)."""

    def __init__(self, hilight: HiLightForConditionalGeneration):
        super().__init__()
        self.hilight = hilight
        width, text = hilight.config.clip_vip_config.hidden_size, hilight.config.text_config.hidden_size
        self.projector = nn.Sequential(nn.Linear(width, text), nn.GELU(), nn.Linear(text, text))

    def first_token(self, text_ids, videos):
        tokens = self.projector(self.hilight.model.clip_vip(videos).last_hidden_state)
        embeds = torch.cat([self.hilight.get_input_embeddings()(text_ids[:, :1]), tokens,
                            self.hilight.get_input_embeddings()(text_ids[:, 1:])], 1)  # fmt: skip
        return self.hilight.generate(inputs_embeds=embeds, max_new_tokens=1, do_sample=False, pad_token_id=0), tokens.shape[1]


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--llm", choices=["mid", "gemma-2b"], default="mid")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.manual_seed(0)
    config = HiLightConfig(text_config=MID) if args.llm == "mid" else HiLightConfig.hilight_2b()
    config.video_token_id = config.text_config.vocab_size - 1
    model = HiLightForConditionalGeneration(config).eval()
    baseline = VideoLlavaStyle(model).eval().to(device, dtype)
    videos = torch.randn(1, 12, 3, 224, 224, device=device, dtype=dtype)
    text = torch.arange(10, 40, device=device)[None]  # <bos> stand-in + a 29-token question
    placeholders = torch.full((1, config.num_vision_tokens), config.video_token_id, device=device)
    ids = torch.cat([text[:, :1], placeholders, text[:, 1:]], 1)

    def hilight():
        return model.generate(input_ids=ids, pixel_values_videos=videos, max_new_tokens=1, do_sample=False,
                              pad_token_id=0)

    runs = {
        "hilight": hilight,
        "baseline": lambda: baseline.first_token(text, videos),
    }
    with torch.inference_mode():
        _, baseline_tokens = baseline.first_token(text, videos)
        for fn in runs.values():
            fn()  # warm-up
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                times[name].append(timed(fn, device))
    med = {name: statistics.median(t) for name, t in times.items()}
    h, b = med["hilight"], med["baseline"]
    llm = "LLM 8 x 512" if args.llm == "mid" else "LLM Gemma-2B shapes"
    where = f"{torch.get_num_threads()} threads" if device.type == "cpu" else torch.cuda.get_device_name(device)
    print(f"vision tokens: HiLight {config.num_vision_tokens}, Video-LLaVA-style {baseline_tokens}")
    print(f"time to first answer token: HiLight {h:.3f} s, Video-LLaVA-style {b:.3f} s "
          f"(towers at published sizes, {llm}, {args.dtype}, {where})")
    print(f"RATIO first token HiLight/Video-LLaVA-style ({args.llm}) = {h / b:.2f}")


if __name__ == "__main__":
    main()
