"""Proxy-guided attention: per-frame block-sparse form against the dense masked form.

ViT-B/16 width (768, 12 heads), 12 frames of 196 patches plus 4 CLS/proxy tokens, batch 2, CPU.
Both forms get the same q, k, v and use PyTorch's SDPA kernel; the dense form passes a boolean
mask over all 2356 x 2356 pairs. The attention core (scores, softmax, weighted sum) is what the
block form saves; the whole layer adds the q/k/v/out projections, which both forms share, so its
ratio is given too. Timings are interleaved, from one run.

    python -m benchmarks.bench_proxy_attention [--repeats 7]
"""

import argparse

import torch
import torch.nn.functional as F

from modeling_hilight import CLIPViPVisionConfig
from modeling_hilight.modeling_clip_vip_plus import CLIPViPProxyGuidedAttention

from .harness import Row, Side, add_common_arguments, emit, interleaved, set_threads

SCRIPT = "`benchmarks/bench_proxy_attention.py`"


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--batch", type=int, default=2)
    add_common_arguments(parser)
    args = parser.parse_args()
    set_threads()
    size = dict(hidden_size=768, num_attention_heads=12, image_size=224, patch_size=16)
    if args.smoke:
        args.repeats, args.frames, args.batch = 1, 2, 1
        size = dict(hidden_size=64, num_attention_heads=2, image_size=64, patch_size=16)

    torch.manual_seed(0)
    config = CLIPViPVisionConfig(**size)
    config._attn_implementation = "sdpa"
    layer = CLIPViPProxyGuidedAttention(config).eval()
    prefix, per_frame = config.num_prefix_tokens, config.num_patches_per_frame
    length = prefix + args.frames * per_frame
    x = torch.randn(args.batch, length, config.hidden_size)
    q, k, v = (torch.randn(args.batch, config.num_attention_heads, length, layer.head_dim) for _ in range(3))
    allowed = block_mask(prefix, args.frames, per_frame)

    with torch.inference_mode():
        core_diff = (layer.proxy_guided_attention(q, k, v) - dense_core(layer, q, k, v, allowed)).abs().max().item()
        layer_diff = (layer(x)[0] - dense_layer(layer, x, allowed)).abs().max().item()
        t = interleaved({"block core": lambda: layer.proxy_guided_attention(q, k, v),
                         "dense core": lambda: dense_core(layer, q, k, v, allowed),
                         "block layer": lambda: layer(x), "dense layer": lambda: dense_layer(layer, x, allowed)},
                        args.repeats)  # fmt: skip
    ms = {name: [s * 1e3 for s in values] for name, values in t.items()}

    dense_entries = length * length
    block_entries = prefix * length + args.frames * per_frame * (prefix + per_frame)
    shape = (f"width {config.hidden_size}, {args.frames} x {per_frame} + {prefix} tokens, batch {args.batch}")
    print(f"score entries per head: dense {dense_entries:,}  block {block_entries:,}; max |diff| core {core_diff:.1e}, "
          f"layer {layer_diff:.1e}")
    rows = [
        Row("proxy_attention/core", f"proxy-guided attention core, dense masked / per-frame ({shape})",
            Side("dense", ms["dense core"], "ms"), Side("per-frame", ms["block core"], "ms"), ">= 5", SCRIPT,
            note=f"{dense_entries / block_entries:.1f}x fewer score entries; same output to {core_diff:.0e}"),
        Row("proxy_attention/layer", "the same, whole attention layer (the q/k/v/out projections are shared work)",
            Side("dense", ms["dense layer"], "ms"), Side("per-frame", ms["block layer"], "ms"), "", SCRIPT),
    ]  # fmt: skip
    emit(rows, args)


if __name__ == "__main__":
    main()
