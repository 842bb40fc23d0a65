"""Time to the first answer token: HiLight against a Video-LLaVA-style baseline.

Both are built in this script from the same towers at the published sizes (CLIP-ViP ViT-B/16 at
224 px, 12 frames; Long-CLIP-B) and the same mid-size LLM (8 layers, width 512). The baseline
projects all 4 + 12 x 196 = 2356 CLIP-ViP tokens into the LLM with a two-layer MLP; HiLight runs
both towers and token mining and gives the LLM 12 x 32 = 384 tokens. Time = generate(1 new
token), i.e. towers + prefill; interleaved medians.

    python benchmarks/bench_first_token.py [--repeats 3]
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = HiLightConfig(text_config=MID, video_token_id=8191)
    model = HiLightForConditionalGeneration(config).eval()
    baseline = VideoLlavaStyle(model).eval()
    videos = torch.randn(1, 12, 3, 224, 224)
    text = torch.arange(10, 40)[None]  # <bos> stand-in + a 29-token question
    ids = torch.cat([text[:, :1], torch.full((1, config.num_vision_tokens), 8191), text[:, 1:]], 1)

    def hilight():
        return model.generate(input_ids=ids, pixel_values_videos=videos, max_new_tokens=1, do_sample=False, pad_token_id=0)

    with torch.inference_mode():
        hilight()
        _, baseline_tokens = baseline.first_token(text, videos)
        h_times, b_times = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            hilight()
            h_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            baseline.first_token(text, videos)
            b_times.append(time.perf_counter() - start)
    h, b = statistics.median(h_times), statistics.median(b_times)
    print(f"vision tokens: HiLight {config.num_vision_tokens}, Video-LLaVA-style {baseline_tokens}")
    print(f"time to first answer token: HiLight {h:.2f} s, Video-LLaVA-style {b:.2f} s "
          f"(towers at published sizes, LLM 8 x 512, {torch.get_num_threads()} threads)")
    print(f"RATIO first token HiLight/Video-LLaVA-style = {h / b:.2f}")


if __name__ == "__main__":
    main()
