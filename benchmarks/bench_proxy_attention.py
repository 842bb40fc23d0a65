"""Proxy-guided attention: per-frame block-sparse form against the dense masked form.

ViT-B/16 width (768, 12 heads), 12 frames of 196 patches plus 4 CLS/proxy tokens, batch 2, CPU.
Both forms get the same q, k, v and use PyTorch's SDPA kernel; the dense form passes a boolean
mask over all 2356 x 2356 pairs. The attention core (scores, softmax, weighted sum) is what the
block form saves; the whole layer adds the q/k/v/out projections, which both forms share, so its
ratio is printed too. Timings are interleaved medians from one run.

    python benchmarks/bench_proxy_attention.py [--repeats 7]
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from modeling_hilight import CLIPViPVisionConfig
from modeling_hilight.modeling_clip_vip_plus import CLIPViPProxyGuidedAttention


def block_mask(prefix: int, frames: int, per_frame: int) -> torch.Tensor:
    frame_of = torch.cat([torch.full((prefix,), -1), torch.arange(frames).repeat_interleave(per_frame)])
    allowed = frame_of[:, None] == frame_of[None, :]
    allowed[:prefix, :] = True
    allowed[:, :prefix] = True
    return allowed


def dense_core(layer, q, k, v, allowed):
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=layer.scale)
    return out.transpose(1, 2).flatten(2)


def dense_layer(layer, x, allowed):
    shape = (*x.shape[:2], layer.num_heads, layer.head_dim)
    q, k, v = (proj(x).view(shape).transpose(1, 2) for proj in (layer.q_proj, layer.k_proj, layer.v_proj))
    return layer.out_proj(dense_core(layer, q, k, v, allowed))


def interleaved_medians(fns, repeats):
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(0)
    config = CLIPViPVisionConfig(hidden_size=768, num_attention_heads=12, image_size=224, patch_size=16)
    config._attn_implementation = "sdpa"
    layer = CLIPViPProxyGuidedAttention(config).eval()
    prefix, per_frame = config.num_prefix_tokens, config.num_patches_per_frame
    length = prefix + args.frames * per_frame
    x = torch.randn(args.batch, length, config.hidden_size)
    q, k, v = (torch.randn(args.batch, 12, length, 64) for _ in range(3))
    allowed = block_mask(prefix, args.frames, per_frame)

    with torch.inference_mode():
        core_diff = (layer.proxy_guided_attention(q, k, v) - dense_core(layer, q, k, v, allowed)).abs().max().item()
        layer_diff = (layer(x)[0] - dense_layer(layer, x, allowed)).abs().max().item()
        block_core, dense_core_t, block_layer, dense_layer_t = interleaved_medians(
            [lambda: layer.proxy_guided_attention(q, k, v), lambda: dense_core(layer, q, k, v, allowed),
             lambda: layer(x), lambda: dense_layer(layer, x, allowed)],
            args.repeats,
        )

    dense_entries = length * length
    block_entries = prefix * length + args.frames * per_frame * (prefix + per_frame)
    print(f"proxy-guided attention, batch {args.batch}, {args.frames} frames x {per_frame} patches + {prefix} "
          f"prefix tokens, width {config.hidden_size}, {torch.get_num_threads()} threads")
    print(f"  score entries per head: dense {dense_entries:,}  block {block_entries:,}  "
          f"({dense_entries / block_entries:.1f}x fewer)")
    print(f"  attention core: dense masked {dense_core_t * 1e3:7.1f} ms  per-frame {block_core * 1e3:7.1f} ms  "
          f"max |diff| {core_diff:.1e}")
    print(f"  whole layer:    dense masked {dense_layer_t * 1e3:7.1f} ms  per-frame {block_layer * 1e3:7.1f} ms  "
          f"max |diff| {layer_diff:.1e}")
    print(f"RATIO attention core dense/block = {dense_core_t / block_core:.2f}x (goal >= 5x)")
    print(f"RATIO whole layer dense/block = {dense_layer_t / block_layer:.2f}x (projections are shared work)")


if __name__ == "__main__":
    main()
