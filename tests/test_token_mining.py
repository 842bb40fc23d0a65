"""Token mining: the released module key for key and against a hand computation; the variants."""

import numpy as np
import pytest
import torch

from modeling_hilight.conversion_utils import CheckpointError
from modeling_hilight.convert_hilight import convert_token_mining_checkpoint
from modeling_hilight.token_mining import (
    ImprovedTokenMining,
    ReferenceTokenMining,
    Structure1TokenMining,
    Structure2TokenMining,
)

# The parameter names of motern88/HiLight hilight/model/multimodal_projector/token_mining.py,
# as the released token_mining.bin stores them under `model.token_mining.`.
PUBLISHED_KEYS = {
    "query_projector.0.weight", "query_projector.0.bias", "query_projector.1.weight", "query_projector.1.bias",
    "key_projector.0.weight", "key_projector.0.bias", "key_projector.1.weight", "key_projector.1.bias",
    "val_projector.0.weight", "val_projector.0.bias", "val_projector.1.weight", "val_projector.1.bias",
    "LongCLIP_projector.0.weight", "LongCLIP_projector.0.bias",
    "CLIP_VIP_projector.0.weight", "CLIP_VIP_projector.0.bias",
    "tokenizer_projector.0.weight", "tokenizer_projector.0.bias", "tokenizer_projector.1.weight",
    "tokenizer_projector.1.bias", "tokenizer_projector.3.weight", "tokenizer_projector.3.bias",
}  # fmt: skip


def published_file(tmp_path, vip=12, aux=8, text=10, queries=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = {
        "query_projector.0": [(aux,), (aux,)], "query_projector.1": [(aux, aux), (aux,)],
        "key_projector.0": [(vip,), (vip,)], "key_projector.1": [(aux, vip), (aux,)],
        "val_projector.0": [(vip,), (vip,)], "val_projector.1": [(aux, vip), (aux,)],
        "LongCLIP_projector.0": [(queries, 1), (queries,)], "CLIP_VIP_projector.0": [(vip, vip), (vip,)],
        "tokenizer_projector.0": [(aux,), (aux,)], "tokenizer_projector.1": [(text, aux), (text,)],
        "tokenizer_projector.3": [(text, text), (text,)],
    }  # fmt: skip
    state = {}
    for name, (w, b) in shapes.items():
        state[f"model.token_mining.{name}.weight"] = torch.randn(w, generator=g) * 0.5
        state[f"model.token_mining.{name}.bias"] = torch.randn(b, generator=g) * 0.1
    path = tmp_path / "token_mining.bin"
    torch.save(state, path)
    return path, {k[len("model.token_mining."):]: v.double().numpy() for k, v in state.items()}


def layer_norm(x, w, b, eps=1e-5):
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def reference_by_hand(p, clip_tokens, keyframes, queries):
    """numpy, one index at a time for the query expansion and its .view reinterpretation."""
    relu = lambda x: np.maximum(x, 0)  # noqa: E731
    lin = lambda x, n: x @ p[f"{n}.weight"].T + p[f"{n}.bias"]  # noqa: E731
    out = []
    for x, kf in zip(clip_tokens, keyframes):
        frames, width = kf.shape
        kv = relu(lin(x, "CLIP_VIP_projector.0"))
        q0 = np.zeros((frames * queries, width))
        w, b = p["LongCLIP_projector.0.weight"][:, 0], p["LongCLIP_projector.0.bias"]
        for r in range(frames * queries):
            for c in range(width):
                flat = r * width + c  # position in the (frames*width, queries) buffer of this video
                n, rem = divmod(flat, width * queries)
                d, k = divmod(rem, queries)
                q0[r, c] = max(w[k] * kf[n, d] + b[k], 0.0)
        q = lin(layer_norm(q0, p["query_projector.0.weight"], p["query_projector.0.bias"]), "query_projector.1")
        k_ = lin(layer_norm(kv, p["key_projector.0.weight"], p["key_projector.0.bias"]), "key_projector.1")
        v_ = lin(layer_norm(kv, p["val_projector.0.weight"], p["val_projector.0.bias"]), "val_projector.1")
        s = q @ k_.T / np.sqrt(k_.shape[-1])
        a = np.exp(s - s.max(-1, keepdims=True))
        h = (a / a.sum(-1, keepdims=True)) @ v_
        h = relu(lin(layer_norm(h, p["tokenizer_projector.0.weight"], p["tokenizer_projector.0.bias"]),
                     "tokenizer_projector.1"))
        out.append(relu(lin(h, "tokenizer_projector.3")))
    return np.stack(out)


def test_released_file_loads_key_for_key_and_matches_a_hand_computation(tmp_path):
    path, params = published_file(tmp_path)
    module = convert_token_mining_checkpoint(path)
    assert set(module.state_dict()) == PUBLISHED_KEYS
    g = torch.Generator().manual_seed(1)
    clip_tokens, keyframes = torch.randn(2, 7, 12, generator=g), torch.randn(2, 3, 8, generator=g)
    got = module(clip_tokens, keyframes)
    assert got.shape == (2, 3 * 4, 10)
    expected = reference_by_hand(params, clip_tokens.double().numpy(), keyframes.double().numpy(), 4)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    assert (got >= 0).all()  # the final ReLU


def test_published_sizes_give_384_tokens_and_6_9_million_parameters():
    with torch.device("meta"):
        module = ReferenceTokenMining(768, 512, 2048, 32)
        out = module(torch.empty(1, 4 + 12 * 196, 768), torch.empty(1, 12, 512))
    assert out.shape == (1, 384, 2048)
    assert round(sum(p.numel() for p in module.parameters()) / 1e6, 1) == 6.9


def test_wrong_files_are_reported(tmp_path):
    torch.save({"model.mm_projector.weight": torch.zeros(2)}, tmp_path / "x.bin")
    with pytest.raises(CheckpointError, match=r"keys outside model\.token_mining\.\*: model\.mm_projector\.weight"):
        convert_token_mining_checkpoint(tmp_path / "x.bin")
    path, _ = published_file(tmp_path)
    state = torch.load(path, weights_only=True)
    state["model.token_mining.key_projector.1.weight"] = torch.zeros(8, 5)
    torch.save(state, tmp_path / "bad.bin")
    with pytest.raises(CheckpointError, match=r"key_projector\.1\.weight: checkpoint \(8, 5\) vs model \(8, 12\)"):
        convert_token_mining_checkpoint(tmp_path / "bad.bin")


@pytest.mark.parametrize("cls", [Structure1TokenMining, Structure2TokenMining])
def test_figure3_structures_give_one_token_per_keyframe(cls):
    torch.manual_seed(0)
    module = cls(12, 8, 10, hidden=6)
    out = module(torch.randn(2, 7, 12), torch.randn(2, 3, 8))
    assert out.shape == (2, 3, 10)
    assert (cls is Structure2TokenMining) == bool((out >= 0).all())  # only (2) ends in a ReLU


def test_improved_variant_is_signed_and_distinguishes_slots_and_frames():
    torch.manual_seed(0)
    module = ImprovedTokenMining(12, 8, 10, hidden=16, queries_per_frame=4, num_heads=2)
    torch.nn.init.normal_(module.slots, std=0.5)
    clip_tokens, keyframes = torch.randn(1, 7, 12), torch.randn(1, 3, 8)
    out = module(clip_tokens, keyframes)
    assert out.shape == (1, 12, 10) and (out < 0).any()
    assert not torch.allclose(out[0, 0], out[0, 1])  # two slots of one frame
    changed = keyframes.clone()
    changed[0, 2] += 1
    out2 = module(clip_tokens, changed)
    torch.testing.assert_close(out2[0, :8], out[0, :8])  # frame 2's keyframe moves only frame 2's tokens
    assert not torch.allclose(out2[0, 8:], out[0, 8:])


@pytest.mark.parametrize("variant", ["reference", "structure2", "improved"])
def test_token_mining_starts_xavier_uniform_with_zero_bias_like_the_reference(variant):
    from hilight_fixtures import tiny_model

    mining = tiny_model(token_mining_variant=variant, text_config=dict(hidden_size=256)).model.token_mining
    linears = [m for m in mining.modules() if isinstance(m, torch.nn.Linear)]
    assert linears
    for linear in linears:
        fan_out, fan_in = linear.weight.shape
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert linear.weight.abs().max() <= bound and (linear.bias == 0).all()
        if linear.weight.numel() >= 1024:  # uniform on [-b, b] has standard deviation b / sqrt(3)
            assert abs(linear.weight.std().item() - bound / 3**0.5) < 0.1 * bound
    for norm in (m for m in mining.modules() if isinstance(m, torch.nn.LayerNorm)):
        assert (norm.weight == 1).all() and (norm.bias == 0).all()


def test_frame_local_attention_equals_a_loop_over_keyframes_and_keeps_frames_apart():
    """`attention="frame"`: keyframe k's queries see the prefix tokens and the patches of the nearest
    clip frame only. Checked against a plain loop with softmax written out, and by perturbing one frame."""
    torch.manual_seed(0)
    prefix, per_frame, frames, keyframes, width = 4, 6, 5, 3, 8
    mining = ImprovedTokenMining(width, 10, 12, 16, queries_per_frame=2, num_heads=2, attention="frame",
                                 num_prefix_tokens=prefix, patches_per_frame=per_frame).eval()  # fmt: skip
    clip = torch.randn(2, prefix + frames * per_frame, width)
    keys = torch.randn(2, keyframes, 10)
    out = mining(clip, keys)
    assert out.shape == (2, keyframes * 2, 12)

    nearest = [0, 2, 4]  # linspace(0, 4, 3)
    with torch.no_grad():
        expected = []
        for v in range(2):
            rows = []
            for k, f in enumerate(nearest):
                kv = torch.cat([clip[v, :prefix], clip[v, prefix + f * per_frame : prefix + (f + 1) * per_frame]])
                kv = mining.kv_norm(kv)
                query = mining.keyframe_projector(keys[v, k]) + mining.slots  # [q, H]
                q, kk, vv = mining.q_proj(mining.query_norm(query)), mining.k_proj(kv), mining.v_proj(kv)
                heads = []
                for h in range(2):
                    s = slice(8 * h, 8 * (h + 1))
                    weights = torch.softmax(q[:, s] @ kk[:, s].T / 8**0.5, dim=-1)
                    heads.append(weights @ vv[:, s])
                query = query + mining.o_proj(torch.cat(heads, -1))
                query = query + mining.mlp(mining.mlp_norm(query))
                rows.append(mining.output_projector(mining.output_norm(query)))
            expected.append(torch.cat(rows))
    torch.testing.assert_close(out, torch.stack(expected), atol=1e-5, rtol=1e-5)

    # a change in clip frame 1 (no keyframe's nearest frame) changes nothing; in frame 2 only keyframe 1's tokens
    changed = clip.clone()
    changed[:, prefix + per_frame : prefix + 2 * per_frame] += torch.randn(2, per_frame, width)
    torch.testing.assert_close(mining(changed, keys), out)
    changed = clip.clone()
    changed[:, prefix + 2 * per_frame : prefix + 3 * per_frame] += torch.randn(2, per_frame, width)
    diff = (mining(changed, keys) - out).abs().amax(-1)  # [V, K*q]
    assert (diff[:, 2:4] > 1e-4).all() and (diff[:, :2] == 0).all() and (diff[:, 4:] == 0).all()


def test_frame_local_attention_rejects_token_counts_that_are_not_whole_frames():
    mining = ImprovedTokenMining(8, 10, 12, 16, queries_per_frame=2, num_heads=2, attention="frame",
                                 num_prefix_tokens=4, patches_per_frame=6)  # fmt: skip
    with pytest.raises(ValueError, match="not 4 prefix tokens plus whole frames of 6 patches"):
        mining(torch.randn(1, 4 + 13, 8), torch.randn(1, 2, 10))
    with pytest.raises(ValueError, match="'clip' or 'frame'"):
        ImprovedTokenMining(8, 10, 12, 16, queries_per_frame=2, num_heads=2, attention="patch")
