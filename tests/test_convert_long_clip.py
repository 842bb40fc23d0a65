"""Long-CLIP (OpenAI CLIP layout, 248 positions) -> transformers CLIPModel, and the whole HiLight."""

import pytest
import torch
import torch.nn.functional as F
from hilight_fixtures import tiny_model
from transformers import AutoModelForCausalLM

from modeling_hilight.conversion_utils import CheckpointError
from modeling_hilight.convert_hilight import assemble_hilight
from modeling_hilight.convert_long_clip import convert_long_clip_checkpoint, long_clip_vision_tower

W, TW, EMBED, LAYERS = 64, 64, 16, 2


def openai_block(prefix, width, g):
    return {
        f"{prefix}attn.in_proj_weight": torch.randn(3 * width, width, generator=g) * 0.1,
        f"{prefix}attn.in_proj_bias": torch.randn(3 * width, generator=g) * 0.1,
        f"{prefix}attn.out_proj.weight": torch.randn(width, width, generator=g) * 0.1,
        f"{prefix}attn.out_proj.bias": torch.randn(width, generator=g) * 0.1,
        f"{prefix}ln_1.weight": 1 + 0.1 * torch.randn(width, generator=g), f"{prefix}ln_1.bias": torch.zeros(width),
        f"{prefix}mlp.c_fc.weight": torch.randn(4 * width, width, generator=g) * 0.1,
        f"{prefix}mlp.c_fc.bias": torch.randn(4 * width, generator=g) * 0.1,
        f"{prefix}mlp.c_proj.weight": torch.randn(width, 4 * width, generator=g) * 0.1,
        f"{prefix}mlp.c_proj.bias": torch.randn(width, generator=g) * 0.1,
        f"{prefix}ln_2.weight": 1 + 0.1 * torch.randn(width, generator=g), f"{prefix}ln_2.bias": torch.zeros(width),
    }  # fmt: skip


def long_clip_state(seed=0):
    """Exactly the longclip-B.pt layout (OpenAI CLIP names), tiny."""
    g = torch.Generator().manual_seed(seed)
    s = {
        "visual.conv1.weight": torch.randn(W, 3, 16, 16, generator=g) * 0.05,
        "visual.class_embedding": torch.randn(W, generator=g) * 0.1,
        "visual.positional_embedding": torch.randn(5, W, generator=g) * 0.1,
        "visual.ln_pre.weight": torch.ones(W), "visual.ln_pre.bias": torch.zeros(W),
        "visual.ln_post.weight": torch.ones(W), "visual.ln_post.bias": torch.zeros(W),
        "visual.proj": torch.randn(W, EMBED, generator=g) * 0.1,
        "token_embedding.weight": torch.randn(100, TW, generator=g) * 0.1,
        "positional_embedding": torch.randn(248, TW, generator=g),
        "positional_embedding_res": torch.randn(248, TW, generator=g),
        "ln_final.weight": torch.ones(TW), "ln_final.bias": torch.zeros(TW),
        "text_projection": torch.randn(TW, EMBED, generator=g) * 0.1,
        "logit_scale": torch.tensor(4.6052),
    }  # fmt: skip
    for i in range(LAYERS):
        s.update(openai_block(f"visual.transformer.resblocks.{i}.", W, g))
        s.update(openai_block(f"transformer.resblocks.{i}.", TW, g))
    return s


def openai_encode_image(s, image):
    """OpenAI CLIP's VisionTransformer forward, written from the raw tensors."""
    x = F.conv2d(image, s["visual.conv1.weight"], stride=16).flatten(2).transpose(1, 2)
    x = torch.cat([s["visual.class_embedding"].expand(x.shape[0], 1, -1), x], 1) + s["visual.positional_embedding"]
    x = F.layer_norm(x, (W,), s["visual.ln_pre.weight"], s["visual.ln_pre.bias"])
    for i in range(LAYERS):
        p = f"visual.transformer.resblocks.{i}."
        h = F.layer_norm(x, (W,), s[p + "ln_1.weight"], s[p + "ln_1.bias"])
        q, k, v = (h @ s[p + "attn.in_proj_weight"].T + s[p + "attn.in_proj_bias"]).chunk(3, -1)
        a = torch.softmax(q @ k.transpose(1, 2) / W**0.5, -1) @ v  # one head of width 64
        x = x + a @ s[p + "attn.out_proj.weight"].T + s[p + "attn.out_proj.bias"]
        h = F.layer_norm(x, (W,), s[p + "ln_2.weight"], s[p + "ln_2.bias"])
        h = h @ s[p + "mlp.c_fc.weight"].T + s[p + "mlp.c_fc.bias"]
        x = x + (h * torch.sigmoid(1.702 * h)) @ s[p + "mlp.c_proj.weight"].T + s[p + "mlp.c_proj.bias"]
    return F.layer_norm(x[:, 0], (W,), s["visual.ln_post.weight"], s["visual.ln_post.bias"]) @ s["visual.proj"]


def openai_block_forward(s, p, x, heads_width, mask=None):
    """One OpenAI ResidualAttentionBlock (one head of width 64 here)."""
    width = x.shape[-1]
    h = F.layer_norm(x, (width,), s[p + "ln_1.weight"], s[p + "ln_1.bias"])
    q, k, v = (h @ s[p + "attn.in_proj_weight"].T + s[p + "attn.in_proj_bias"]).chunk(3, -1)
    scores = q @ k.transpose(1, 2) / heads_width**0.5
    if mask is not None:
        scores = scores + mask
    x = x + torch.softmax(scores, -1) @ v @ s[p + "attn.out_proj.weight"].T + s[p + "attn.out_proj.bias"]
    h = F.layer_norm(x, (width,), s[p + "ln_2.weight"], s[p + "ln_2.bias"])
    h = h @ s[p + "mlp.c_fc.weight"].T + s[p + "mlp.c_fc.bias"]
    return x + (h * torch.sigmoid(1.702 * h)) @ s[p + "mlp.c_proj.weight"].T + s[p + "mlp.c_proj.bias"]


def longclip_encode_text(s, text):
    """Long-CLIP's encode_text: position rows 0..19 from the frozen table, the rest from the residual one;
    causal attention; ln_final at the end-of-text token (the highest id) -> text_projection."""
    rows = torch.arange(248)[:, None]
    positions = s["positional_embedding"] * (rows < 20) + s["positional_embedding_res"] * (rows >= 20)
    x = s["token_embedding.weight"][text] + positions
    causal = torch.full((248, 248), float("-inf")).triu(1)
    for i in range(LAYERS):
        x = openai_block_forward(s, f"transformer.resblocks.{i}.", x, TW, causal)
    x = F.layer_norm(x, (TW,), s["ln_final.weight"], s["ln_final.bias"])
    return x[torch.arange(len(text)), text.argmax(-1)] @ s["text_projection"]


def test_long_clip_text_tower_and_logits_match_the_longclip_forward(tmp_path):
    state = long_clip_state(seed=3)
    torch.save(state, tmp_path / "longclip-B.pt")
    clip = convert_long_clip_checkpoint(tmp_path / "longclip-B.pt")
    g = torch.Generator().manual_seed(0)
    text = torch.zeros(2, 248, dtype=torch.long)  # OpenAI pads with 0 after end-of-text
    for row, end in enumerate((40, 230)):  # the second caption runs far past CLIP's 77 positions
        text[row, 0], text[row, 1:end], text[row, end] = 98, torch.randint(1, 98, (end - 1,), generator=g), 99
    expected_text = longclip_encode_text(state, text)
    text_embeds = clip.get_text_features(input_ids=text).pooler_output
    torch.testing.assert_close(text_embeds, expected_text, atol=1e-5, rtol=1e-4)
    image = torch.randn(2, 3, 32, 32, generator=g)
    expected_image = openai_encode_image(state, image)
    logits = state["logit_scale"].exp() * F.normalize(expected_image, dim=-1) @ F.normalize(expected_text, dim=-1).T
    torch.testing.assert_close(clip(input_ids=text, pixel_values=image).logits_per_image, logits, atol=1e-4, rtol=1e-4)


def test_long_clip_converts_and_matches_the_openai_forward(tmp_path):
    state = long_clip_state()
    torch.save(state, tmp_path / "longclip-B.pt")
    clip = convert_long_clip_checkpoint(tmp_path / "longclip-B.pt")
    positions = clip.text_model.embeddings.position_embedding.weight
    assert positions.shape == (248, TW)
    torch.testing.assert_close(positions[:20], state["positional_embedding"][:20])
    torch.testing.assert_close(positions[20:], state["positional_embedding_res"][20:])
    tower = long_clip_vision_tower(clip)
    image = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(tower(pixel_values=image).image_embeds, openai_encode_image(state, image),
                               atol=1e-5, rtol=1e-4)


def test_unknown_and_missing_keys_are_named(tmp_path):
    state = long_clip_state()
    state["visual.attnpool.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match=r"a\.pt: keys this converter does not know, not converted: visual\.attnpool"):
        convert_long_clip_checkpoint(tmp_path / "a.pt")
    state = long_clip_state()
    del state["positional_embedding_res"]
    torch.save(state, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="no 'positional_embedding_res'"):
        convert_long_clip_checkpoint(tmp_path / "b.pt")


def test_assemble_a_whole_hilight_from_the_four_published_pieces(tmp_path):
    from test_convert_clip_vip import published_state_dict
    from test_token_mining import published_file

    torch.save(published_state_dict(), tmp_path / "clipvip.pt")  # CLIP-ViP width 64
    torch.save(long_clip_state(), tmp_path / "longclip.pt")  # Long-CLIP projection 16
    mining, _ = published_file(tmp_path, vip=64, aux=16, text=64, queries=4)
    llm_source = tiny_model().model.language_model
    llm = AutoModelForCausalLM.from_config(tiny_model().config.text_config)
    llm.model.load_state_dict(llm_source.state_dict())
    llm.save_pretrained(tmp_path / "gemma")
    model = assemble_hilight(tmp_path / "clipvip.pt", tmp_path / "longclip.pt", mining, tmp_path / "gemma",
                             num_frames=12)
    assert model.config.num_vision_tokens == 48
    torch.testing.assert_close(model.model.token_mining.CLIP_VIP_projector[0].weight,
                               torch.load(mining, weights_only=True)["model.token_mining.CLIP_VIP_projector.0.weight"])
    ids = torch.tensor([[2] + [model.config.video_token_id] * 48 + [5, 6]])
    out = model(input_ids=ids, pixel_values_videos=torch.randn(1, 12, 3, 32, 32))
    assert out.logits.shape == (1, 51, 128) and torch.isfinite(out.logits).all()


def test_cli_converts_long_clip_and_refuses_incomplete_hilight(tmp_path, capsys):
    from transformers import CLIPModel

    from modeling_hilight.cli import main

    torch.save(long_clip_state(), tmp_path / "longclip.pt")
    assert main(["convert", "long-clip", "--checkpoint", str(tmp_path / "longclip.pt"), "--out", str(tmp_path / "lc")]) == 0
    assert "wrote CLIPModel" in capsys.readouterr().out
    loaded = CLIPModel.from_pretrained(tmp_path / "lc")
    assert loaded.text_model.embeddings.position_embedding.weight.shape == (248, TW)
    with pytest.raises(SystemExit, match="missing --long-clip, --token-mining, --language-model"):
        main(["convert", "hilight", "--clip-vip", "x.pt", "--out", str(tmp_path / "h")])


def test_exact_gelu_option_gives_the_llm_the_reference_activation(tmp_path):
    """transformers 5 runs Gemma with tanh-approximate GELU; the reference (transformers 4.38) ran exact GELU."""
    import torch.nn.functional as F

    from modeling_hilight import HiLightForConditionalGeneration
    from modeling_hilight.training.cli import main
    from test_convert_clip_vip import published_state_dict
    from test_token_mining import published_file

    torch.save(published_state_dict(), tmp_path / "clipvip.pt")
    torch.save(long_clip_state(), tmp_path / "longclip.pt")
    mining, _ = published_file(tmp_path, vip=64, aux=16, text=64, queries=4)
    AutoModelForCausalLM.from_config(tiny_model().config.text_config).save_pretrained(tmp_path / "gemma")
    pieces = ["--clip-vip", str(tmp_path / "clipvip.pt"), "--long-clip", str(tmp_path / "longclip.pt"),
              "--token-mining", str(mining), "--language-model", str(tmp_path / "gemma")]  # fmt: skip
    assert main(["convert", "hilight", *pieces, "--out", str(tmp_path / "tanh")]) == 0
    assert main(["convert", "hilight", *pieces, "--exact-gelu", "--out", str(tmp_path / "exact")]) == 0
    tanh = HiLightForConditionalGeneration.from_pretrained(tmp_path / "tanh")
    exact = HiLightForConditionalGeneration.from_pretrained(tmp_path / "exact")
    assert (tanh.config.text_config.hidden_act, exact.config.text_config.hidden_act) == ("gelu_pytorch_tanh", "gelu_python")
    x = torch.linspace(-4, 4, 101)
    act = exact.model.language_model.layers[0].mlp.act_fn
    torch.testing.assert_close(act(x), F.gelu(x), atol=1e-6, rtol=0)
    assert (tanh.model.language_model.layers[0].mlp.act_fn(x) - F.gelu(x)).abs().max() > 1e-4
    ids = torch.tensor([[2, 5, 6, 7]])
    assert not torch.equal(tanh(input_ids=ids).logits, exact(input_ids=ids).logits)
