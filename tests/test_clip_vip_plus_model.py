"""CLIP-ViP+: embeddings, proxy-guided attention, features, losses, checkpointing, save/load."""

import math

import pytest
import torch
import torch.nn.functional as F
from clip_vip_fixtures import captions, tiny_config, videos
from transformers import AutoConfig, AutoModel, CLIPVisionConfig, CLIPVisionModel

from modeling_hilight import CLIPViPPlusModel, CLIPViPVisionConfig, CLIPViPVisionModel
from modeling_hilight.modeling_clip_vip_plus import CLIPViPProxyGuidedAttention


def dense_proxy_guided_attention(layer: CLIPViPProxyGuidedAttention, x: torch.Tensor, frames: int) -> torch.Tensor:
    """The reference form: full attention over all tokens with an additive block mask."""
    batch, length, width = x.shape
    prefix, per_frame = layer.num_prefix, layer.patches_per_frame
    heads, d = layer.num_heads, layer.head_dim
    frame_of = torch.full((length,), -1)
    frame_of[prefix:] = torch.arange(frames).repeat_interleave(per_frame)
    allowed = torch.zeros(length, length, dtype=torch.bool)
    allowed[:prefix, :] = True  # CLS/proxies see everything
    allowed[prefix:, :prefix] = True  # patches see CLS/proxies
    allowed[prefix:, prefix:] = frame_of[prefix:, None] == frame_of[None, prefix:]  # and their own frame
    q = layer.q_proj(x).view(batch, length, heads, d).transpose(1, 2)
    k = layer.k_proj(x).view(batch, length, heads, d).transpose(1, 2)
    v = layer.v_proj(x).view(batch, length, heads, d).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    scores = scores.masked_fill(~allowed, float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, width)
    return layer.out_proj(out)


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("frames", [1, 3, 4])
def test_block_sparse_attention_equals_dense_masked_reference(implementation, frames):
    torch.manual_seed(0)
    config = tiny_config().vision_config
    config._attn_implementation = implementation
    layer = CLIPViPProxyGuidedAttention(config).eval()
    x = torch.randn(2, config.num_prefix_tokens + frames * config.num_patches_per_frame, config.hidden_size)
    got, _ = layer(x)
    want = dense_proxy_guided_attention(layer, x, frames)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_patch_tokens_do_not_see_other_frames_but_cls_does():
    torch.manual_seed(0)
    config = tiny_config().vision_config
    layer = CLIPViPProxyGuidedAttention(config).eval()
    prefix, per_frame = config.num_prefix_tokens, config.num_patches_per_frame
    x = torch.randn(1, prefix + 3 * per_frame, config.hidden_size)
    y = x.clone()
    y[:, prefix + 2 * per_frame :] += 1.0  # change frame 2 only
    out_x, out_y = layer(x)[0], layer(y)[0]
    frame0 = slice(prefix, prefix + per_frame)
    torch.testing.assert_close(out_x[:, frame0], out_y[:, frame0])  # frame 0 is blind to frame 2
    assert not torch.allclose(out_x[:, :prefix], out_y[:, :prefix])  # CLS and proxies are not


def test_video_embeddings_layout_and_temporal_interpolation():
    torch.manual_seed(0)
    model = CLIPViPVisionModel(tiny_config().vision_config).eval()
    emb = model.embeddings
    with torch.no_grad():
        emb.temporal_embedding.normal_()
    pixels = videos(batch=1, frames=6)
    out = emb(pixels)
    prefix, per_frame, width = 4, emb.num_patches, emb.embed_dim
    assert out.shape == (1, prefix + 6 * per_frame, width)

    # CLS and proxies: their parameter plus position 0, nothing temporal.
    pos = emb.position_embedding.weight
    torch.testing.assert_close(out[0, 0], emb.class_embedding + pos[0])
    torch.testing.assert_close(out[0, 1:prefix], emb.added_cls + pos[0])

    # Temporal rows for 6 frames from 4 learned rows: linear interpolation, computed independently.
    table = emb.temporal_embedding[0].detach()
    centres = (torch.arange(6) + 0.5) * 4 / 6 - 0.5  # align_corners=False sample points
    lo = centres.floor().clamp(0, 3).long()
    hi = (lo + 1).clamp(max=3)
    frac = (centres - lo).clamp(0, 1)[:, None]
    expected_temporal = table[lo] * (1 - frac) + table[hi] * frac
    expected_temporal[centres < 0] = table[0]

    patches = F.conv2d(pixels[0], emb.patch_embedding.weight, stride=8).flatten(2).transpose(1, 2)  # [6, L, D]
    expected = patches + pos[1:][None] + expected_temporal[:, None]
    torch.testing.assert_close(out[0, prefix:].view(6, per_frame, width), expected, atol=1e-5, rtol=1e-5)


def test_frame_count_and_size_errors_name_the_problem():
    model = CLIPViPVisionModel(tiny_config().vision_config)
    with pytest.raises(ValueError, match="65 frames; this model accepts 1 to 64"):
        model(torch.zeros(1, 65, 3, 32, 32))
    with pytest.raises(ValueError, match="frames are 40x40; this model takes 32x32"):
        model(torch.zeros(1, 2, 3, 40, 40))
    with pytest.raises(ValueError, match=r"shape \[batch, frames, channels, height, width\]"):
        model(torch.zeros(2, 3, 32, 32))
    assert model(torch.zeros(1, 64, 3, 32, 32)).last_hidden_state.shape[1] == 4 + 64 * 16


def test_one_frame_without_proxies_is_exactly_image_clip():
    """CLIP-ViP with no proxy and one frame (zero temporal embedding) is the image CLIP it came from."""
    torch.manual_seed(0)
    vip_config = tiny_config(vision_config=dict(add_cls_num=0)).vision_config
    vip = CLIPViPVisionModel(vip_config).eval()
    clip_config = CLIPVisionConfig(**{k: getattr(vip_config, k) for k in (
        "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size", "patch_size")})
    clip = CLIPVisionModel(clip_config).eval()
    missing = clip.load_state_dict({k: v for k, v in vip.state_dict().items() if k != "embeddings.added_cls"
                                    and k != "embeddings.temporal_embedding"}, strict=True)
    assert not missing.missing_keys
    image = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(vip(image[:, None]).last_hidden_state, clip(image).last_hidden_state, atol=1e-5, rtol=1e-5)


def test_features_match_forward_and_the_reference_recipe():
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config()).eval()
    ids, mask = captions()
    pixels = videos()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels)
    hidden = model.vision_model(pixels).last_hidden_state
    # reference: post_layernorm(hidden[:, 0]) -> visual_projection -> L2 norm
    expected_video = F.normalize(model.visual_projection(model.vision_model.post_layernorm(hidden[:, 0])), dim=-1)
    torch.testing.assert_close(out.video_embeds, expected_video)
    torch.testing.assert_close(F.normalize(model.get_video_features(pixels).pooler_output, dim=-1), expected_video)
    torch.testing.assert_close(
        F.normalize(model.get_text_features(ids, mask).pooler_output, dim=-1), out.text_embeds
    )
    scale = math.exp(tiny_config().logit_scale_init_value)
    torch.testing.assert_close(out.logits_per_text, scale * out.text_embeds @ expected_video.t())
    torch.testing.assert_close(out.logits_per_video, out.logits_per_text.t())


def test_loss_combines_global_and_local_with_config_weights():
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config(global_loss_weight=0.5, local_loss_weight=2.0))
    with torch.no_grad():
        model.logit_scale.fill_(3.0)
    ids, mask = captions()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=videos(), return_loss=True)
    sims = out.text_embeds @ out.video_embeds.t() * math.exp(3.0)
    labels = torch.arange(3)
    expected_global = (F.cross_entropy(sims, labels) + F.cross_entropy(sims.t(), labels)) / 2
    torch.testing.assert_close(out.loss_global, expected_global)
    assert out.loss_local > 0
    torch.testing.assert_close(out.loss, 0.5 * out.loss_global + 2.0 * out.loss_local)
    assert out.local_text_tokens.shape == (3, 9, 24) and out.local_video_tokens.shape == (3, 4 * 16, 24)
    assert out.language_mask.tolist()[2] == [False] + [True] * 5 + [False] * 3  # bos, 5 words, eos, 2 pads


def test_no_local_placement_has_no_local_heads_and_zero_local_loss():
    model = CLIPViPPlusModel(tiny_config(local_loss_placement="none"))
    assert model.local_text_projection is None and model.local_visual_projection is None
    ids, mask = captions()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=videos(), return_loss=True)
    assert out.loss_local.item() == 0.0
    torch.testing.assert_close(out.loss, 0.5 * out.loss_global)


def _grad_norms(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {name: (p.grad.abs().sum().item() if p.grad is not None else 0.0) for name, p in model.named_parameters()}


def test_gradients_of_embeddings_placement_stop_at_the_embeddings():
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config(local_loss_placement="embeddings"))
    ids, mask = captions()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=videos(), return_loss=True)
    grads = _grad_norms(model, out.loss_local)
    reached = {n for n, g in grads.items() if g > 0}
    assert {
        "text_model.embeddings.token_embedding.weight",
        "text_model.embeddings.position_embedding.weight",
        "vision_model.embeddings.patch_embedding.weight",
        "vision_model.embeddings.position_embedding.weight",
        "local_text_projection.weight",
        "local_visual_projection.weight",
    } <= reached
    assert "vision_model.embeddings.temporal_embedding" in reached  # patches carry the temporal embedding
    # nothing above the embedding layer, and not the CLS/proxies (not patch tokens)
    assert all(
        not n.startswith(("text_model.encoder", "vision_model.encoder", "text_model.final_layer_norm",
                          "vision_model.post_layernorm", "vision_model.pre_layrnorm", "visual_projection",
                          "text_projection"))
        for n in reached
    ), sorted(reached)
    assert "vision_model.embeddings.added_cls" not in reached and "vision_model.embeddings.class_embedding" not in reached


@pytest.mark.parametrize("placement", ["pre_projection", "all_layers"])
def test_gradients_of_layer_placements_reach_every_layer_but_not_global_heads(placement):
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config(local_loss_placement=placement))
    ids, mask = captions()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=videos(), return_loss=True)
    grads = _grad_norms(model, out.loss_local)
    for tower in ("text_model", "vision_model"):
        for layer in range(2):
            assert grads[f"{tower}.encoder.layers.{layer}.mlp.fc1.weight"] > 0, (tower, layer)
    assert grads["text_model.final_layer_norm.weight"] > 0 and grads["vision_model.post_layernorm.weight"] > 0
    assert grads["visual_projection.weight"] == 0 and grads["text_projection.weight"] == 0


def test_all_layers_weights_rise_from_point_one_to_one():
    torch.manual_seed(0)
    config = tiny_config(local_loss_placement="all_layers", text_config=dict(num_hidden_layers=3),
                         vision_config=dict(num_hidden_layers=3))
    model = CLIPViPPlusModel(config).eval()
    ids, mask = captions()
    pixels = videos()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels, return_loss=True)
    scale = torch.tensor(config.logit_scale_init_value).exp()
    per_layer = [
        model.local_loss(t, v, out.language_mask, scale) for t, v in zip(out.local_text_tokens, out.local_video_tokens)
    ]
    assert len(per_layer) == 3
    # summed: the last layer keeps its full weight (the paper: "completely at the final layer")
    torch.testing.assert_close(out.loss_local, 0.1 * per_layer[0] + 0.55 * per_layer[1] + 1.0 * per_layer[2])


def test_all_layers_with_unequal_depths_is_rejected():
    # transformers' strict configs wrap validator errors in huggingface_hub's StrictDataclassError
    with pytest.raises(Exception, match="text encoder has 3 layers and the vision encoder 2"):
        tiny_config(local_loss_placement="all_layers", text_config=dict(num_hidden_layers=3))


def test_frame_patch_scope_averages_per_frame_losses():
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config(patch_scope="frame")).eval()
    ids, mask = captions()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=videos(), return_loss=True)
    scale = torch.tensor(4.6052).exp()
    per_frame = out.local_video_tokens.view(3, 4, 16, 24)
    # the mean over samples with tokens of the per-(sample, frame) losses
    expected = torch.stack([
        model.local_loss(out.local_text_tokens[b : b + 1], per_frame[b, f][None], out.language_mask[b : b + 1], scale)
        for b in range(3) for f in range(4)
    ]).mean()
    torch.testing.assert_close(out.loss_local, expected)


def test_gradient_checkpointing_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config()).train()
    ids, mask = captions()
    pixels = videos()
    loss = model(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels, return_loss=True).loss
    grads = _grad_norms(model, loss)
    model.activation_checkpointing_enable()
    assert model.vision_model.encoder.layers[0].gradient_checkpointing
    loss_ckpt = model(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels, return_loss=True).loss
    grads_ckpt = _grad_norms(model, loss_ckpt)
    torch.testing.assert_close(loss_ckpt, loss)
    for name in grads:
        assert grads_ckpt[name] == pytest.approx(grads[name], rel=1e-4, abs=1e-7), name


def test_stopword_policy_needs_token_ids_and_says_how():
    model = CLIPViPPlusModel(tiny_config(language_mask_policy="stopwords"))
    ids, mask = captions()
    with pytest.raises(ValueError, match=r"model.use_tokenizer\(tokenizer\)"):
        model(input_ids=ids, attention_mask=mask, pixel_values_videos=videos(), return_loss=True)


def test_save_and_load_round_trip_with_auto_classes(tmp_path):
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config(language_mask_policy="token_ids", language_mask_token_ids=[5, 6])).eval()
    ids, mask = captions()
    pixels = videos()
    before = model(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels, return_loss=True)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    config = AutoConfig.from_pretrained(tmp_path)
    assert type(config).__name__ == "CLIPViPPlusConfig" and config.language_mask_token_ids == [5, 6]
    assert type(config.vision_config).__name__ == "CLIPViPVisionConfig" and config.vision_config.add_cls_num == 3
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(loaded) is CLIPViPPlusModel
    after = loaded(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels, return_loss=True)
    for field in ("loss", "loss_global", "loss_local", "logits_per_text", "video_embeds", "text_embeds"):
        torch.testing.assert_close(getattr(after, field), getattr(before, field), atol=0, rtol=0)


def test_vision_tower_alone_loads_from_auto(tmp_path):
    torch.manual_seed(0)
    tower = CLIPViPVisionModel(CLIPViPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                   num_attention_heads=2, image_size=16, patch_size=8)).eval()
    tower.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    pixels = torch.randn(1, 12, 3, 16, 16)
    torch.testing.assert_close(loaded(pixels).last_hidden_state, tower(pixels).last_hidden_state, atol=0, rtol=0)


def test_without_temporal_embedding_there_is_no_parameter_and_the_checkpoint_loads_strictly(tmp_path):
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config(vision_config=dict(use_temporal_embedding=False))).eval()
    assert model.vision_model.embeddings.temporal_embedding is None
    assert not any("temporal_embedding" in k for k in model.state_dict())
    model.save_pretrained(tmp_path)
    loaded, info = CLIPViPPlusModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    ids, mask = captions()
    pixels = videos()
    want = model(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels).logits_per_text
    torch.testing.assert_close(loaded.eval()(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels).logits_per_text,
                               want, atol=0, rtol=0)
    # the patch tokens are the same with any frame count: nothing temporal is added
    embeddings = model.vision_model.embeddings
    one, two = embeddings(pixels[:, :1]), embeddings(pixels[:, :2])
    torch.testing.assert_close(two[:, 4 : 4 + 16], one[:, 4:], atol=0, rtol=0)


def test_logit_scale_is_not_clamped_in_forward_and_keeps_its_gradient_above_the_bound():
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config())
    with torch.no_grad():
        model.logit_scale.fill_(6.0)  # above ln 200 = 5.298
    ids, mask = captions()
    out = model(input_ids=ids, attention_mask=mask, pixel_values_videos=videos(), return_loss=True)
    torch.testing.assert_close(out.logits_per_text, math.exp(6.0) * out.text_embeds @ out.video_embeds.t())
    out.loss.backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad.abs() > 0
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == pytest.approx(math.log(200.0)) and model.logit_scale.grad.abs() > 0
    with torch.no_grad():
        model.logit_scale.fill_(-1.0)
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == 0.0
