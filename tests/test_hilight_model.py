"""HiLightModel / HiLightForConditionalGeneration: towers, scatter, errors, freezing, any LLM, save/load."""

import pytest
import torch
import torch.nn.functional as F
from hilight_fixtures import frames, prompt, tiny_model
from transformers import AutoModel, AutoModelForImageTextToText

from modeling_hilight import HiLightForConditionalGeneration, HiLightModel


def capture_llm_inputs(model):
    seen = {}
    handle = model.model.language_model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(embeds=kwargs["inputs_embeds"].detach().clone()), with_kwargs=True
    )
    return seen, handle


def test_towers_feed_token_mining_as_the_reference_does():
    model = tiny_model()
    video = frames()
    features = model.get_video_features(video).pooler_output
    clip_tokens = model.model.clip_vip(video).last_hidden_state  # no post-LN, all 4 + T*L tokens
    assert clip_tokens.shape == (1, 4 + 12 * 4, 32)
    keyframe = model.model.long_clip.vision_model(pixel_values=video[0])
    # Long-CLIP's encode_image: projection of post-LN CLS, not normalised
    embeds = model.model.long_clip.visual_projection(keyframe.pooler_output)
    expected = model.model.token_mining(clip_tokens, embeds[None])
    torch.testing.assert_close(features, expected)
    assert features.shape == (1, 12 * 4, 64)


def text_scale(model) -> float:
    """What the LLM multiplies text embeddings by: sqrt(hidden) for Gemma (64 here), 1 for Llama."""
    return model.config.text_config.hidden_size**0.5 if model.config.text_config.model_type == "gemma" else 1.0


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_long_clip_runs_its_last_layer_for_cls_alone_with_the_same_embeddings(attention):
    model = tiny_model(long_clip_config=dict(num_hidden_layers=3))
    long_clip = model.model.long_clip
    long_clip.config._attn_implementation = attention
    pixels = torch.randn(5, 3, 32, 32)
    calls = []
    handle = long_clip.vision_model.encoder.layers[-1].mlp.register_forward_hook(
        lambda module, args, out: calls.append(tuple(args[0].shape)))
    with torch.no_grad():
        full = long_clip(pixel_values=pixels)
        short = long_clip(pixel_values=pixels, embeds_only=True)
    handle.remove()
    assert calls == [(5, 5, 32), (5, 32)]  # the whole sequence, then CLS alone
    assert full.last_hidden_state.shape == (5, 5, 32) and short.last_hidden_state is None
    torch.testing.assert_close(short.image_embeds, full.image_embeds, atol=1e-5, rtol=1e-5)
    video = frames()
    with torch.no_grad():
        fast = model.get_video_features(video)
        long_clip.cls_only = False
        slow = model.get_video_features(video)
    torch.testing.assert_close(fast.keyframe_embeds, slow.keyframe_embeds, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast.pooler_output, slow.pooler_output, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("llm", ["gemma", "llama"])
def test_vision_tokens_land_on_the_placeholders_and_text_embeddings_elsewhere(llm):
    model = tiny_model(text_model_type=llm)
    ids = prompt(model, [5, 6, 7])
    seen, handle = capture_llm_inputs(model)
    out = model(input_ids=ids, pixel_values_videos=frames())
    handle.remove()
    placeholder = ids[0] == model.config.video_token_id
    features = model.get_video_features(frames()).pooler_output[0]
    torch.testing.assert_close(out.video_hidden_states[0], features)
    # scaled like Gemma's text embeddings, as transformers 4.38's Gemma scaled every input embedding in the reference
    torch.testing.assert_close(seen["embeds"][0, placeholder], features * text_scale(model))
    table = model.get_input_embeddings().weight
    torch.testing.assert_close(seen["embeds"][0, ~placeholder], table[ids[0, ~placeholder]] * text_scale(model))


def test_several_videos_fill_their_spans_in_order():
    model = tiny_model()
    ids = prompt(model, [5, 6], videos=2)
    videos = torch.cat([frames(seed=1), frames(seed=2)])
    seen, handle = capture_llm_inputs(model)
    model(input_ids=ids, pixel_values_videos=videos)
    handle.remove()
    features = model.get_video_features(videos).pooler_output
    spans = seen["embeds"][0, ids[0] == model.config.video_token_id].view(2, -1, 64)
    torch.testing.assert_close(spans, features * text_scale(model))
    assert not torch.allclose(features[0], features[1])


def test_precomputed_features_and_inputs_embeds_give_the_same_logits():
    model = tiny_model()
    ids, video = prompt(model, [5, 6]), frames()
    expected = model(input_ids=ids, pixel_values_videos=video).logits
    features = model.get_video_features(video)
    torch.testing.assert_close(model(input_ids=ids, mm_encoder_outputs={"video": features}).logits, expected)
    embeds = model.get_input_embeddings()(ids)  # placeholders found by their embedding
    torch.testing.assert_close(model(inputs_embeds=embeds, pixel_values_videos=video).logits, expected)
    with pytest.raises(ValueError, match="either pixel_values_videos or mm_encoder_outputs"):
        model(input_ids=ids, pixel_values_videos=video, mm_encoder_outputs={"video": features})
    with pytest.raises(ValueError, match="pixel_values_keyframes was given without pixel_values_videos"):
        model(input_ids=ids, pixel_values_keyframes=video)


def test_separate_keyframes_set_the_token_count():
    model = tiny_model()
    ids = prompt(model, [5], keyframes=3)
    out = model(input_ids=ids, pixel_values_videos=frames(), pixel_values_keyframes=frames(count=3, seed=4))
    assert out.video_hidden_states.shape == (1, 3 * 4, 64)


def test_count_mismatch_names_both_numbers_and_the_likely_cause():
    model = tiny_model()
    ids = prompt(model, [5])[:, :30]  # a prompt cut through its video span
    with pytest.raises(ValueError, match=r"29 video placeholder tokens .* give 48 vision tokens .* truncated"):
        model(input_ids=ids, pixel_values_videos=frames())
    for beams in (1, 2):  # generate() regroups videos per beam: it must fail the same way, not inside torch
        with pytest.raises(ValueError, match=r"29 video placeholder tokens .* give 48 vision tokens .* truncated"):
            model.generate(input_ids=ids, pixel_values_videos=frames(), num_beams=beams, max_new_tokens=2)
    with pytest.raises(ValueError, match="video placeholder tokens .* but no pixel_values_videos"):
        model(input_ids=prompt(model, [5]))


def test_labels_give_the_shifted_cross_entropy():
    model = tiny_model()
    ids = prompt(model, [5, 6, 7, 8])
    labels = ids.clone()
    labels[ids == model.config.video_token_id] = -100
    out = model(input_ids=ids, pixel_values_videos=frames(), labels=labels)
    expected = F.cross_entropy(out.logits[0, :-1], labels[0, 1:], ignore_index=-100)
    torch.testing.assert_close(out.loss, expected)


def test_freezing_follows_the_config():
    model = tiny_model()
    trainable = {n.split(".")[1] for n, p in model.named_parameters() if p.requires_grad and n.startswith("model.")}
    assert trainable == {"token_mining", "language_model"}
    frozen = tiny_model(freeze_language_model=True, freeze_clip_vip=False)
    trainable = {n.split(".")[1] for n, p in frozen.named_parameters() if p.requires_grad and n.startswith("model.")}
    assert trainable == {"token_mining", "clip_vip"}


def test_lm_head_is_tied_for_gemma_and_not_for_llama():
    gemma = tiny_model()
    assert gemma.lm_head.weight.data_ptr() == gemma.model.language_model.embed_tokens.weight.data_ptr()
    llama = tiny_model(text_model_type="llama")
    assert llama.lm_head.weight.data_ptr() != llama.model.language_model.embed_tokens.weight.data_ptr()


@pytest.mark.parametrize("llm", ["gemma", "llama", "qwen2"])
def test_any_decoder_llm_trains_and_generates(llm):
    model = tiny_model(text_model_type=llm)
    assert type(model.config.text_config).__name__.lower().startswith(llm)
    ids = prompt(model, [5, 6, 7])
    out = model(input_ids=ids, pixel_values_videos=frames(), labels=ids.masked_fill(ids == 127, -100))
    out.loss.backward()
    assert model.model.token_mining.query_projector[1].weight.grad.abs().sum() > 0  # gradient reaches token mining
    generated = model.generate(input_ids=ids, pixel_values_videos=frames(), max_new_tokens=4, do_sample=False)
    assert generated.shape == (1, ids.shape[1] + 4)


def test_save_and_load_through_the_auto_classes(tmp_path):
    model = tiny_model(token_mining_variant="improved")
    ids = prompt(model, [5, 6])
    before = model(input_ids=ids, pixel_values_videos=frames()).logits
    model.save_pretrained(tmp_path)
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    assert type(loaded) is HiLightForConditionalGeneration and loaded.config.token_mining_variant == "improved"
    torch.testing.assert_close(loaded(input_ids=ids, pixel_values_videos=frames()).logits, before, atol=0, rtol=0)
    assert loaded.lm_head.weight.data_ptr() == loaded.model.language_model.embed_tokens.weight.data_ptr()
    base = AutoModel.from_pretrained(tmp_path)
    assert type(base) is HiLightModel
