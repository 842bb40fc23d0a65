"""HiLightConfig: presets, validation, the LLM sub-config, round trips, the published shapes."""

import pytest
import torch
from transformers import AutoConfig

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration


def test_tiny_preset_counts_vision_tokens_per_variant_and_is_small():
    tiny = HiLightConfig.tiny()
    assert tiny.num_frames == 12 and tiny.queries_per_frame == 4
    assert tiny.num_vision_tokens == 48 and tiny.tie_word_embeddings  # 12 frames x 4 queries; Gemma ties
    assert HiLightConfig.tiny(token_mining_variant="improved").num_vision_tokens == 48
    for variant in ("structure1", "structure2"):  # the Figure 3 structures: one token per keyframe
        assert HiLightConfig.tiny(token_mining_variant=variant).num_vision_tokens == 12
    with torch.device("meta"):
        model = HiLightForConditionalGeneration(tiny)
    assert sum(p.numel() for p in model.parameters()) * 4 < 2**20  # under a megabyte in float32


@pytest.mark.parametrize("llm", ["gemma", "llama", "qwen2"])
def test_text_config_is_any_decoder_and_is_what_generate_reads(llm):
    config = HiLightConfig.tiny(text_model_type=llm)
    assert config.text_config.model_type == llm
    assert config.get_text_config() is config.text_config  # generation and TRL read the LLM settings here
    assert config.get_text_config(decoder=True) is config.text_config
    assert config.tie_word_embeddings == (llm == "gemma")  # follows the LLM unless set


@pytest.mark.parametrize("bad, message", [
    (dict(token_mining_variant="structure4"), "token_mining_variant"),
    (dict(token_mining_hidden_size=8), "needs token_mining_hidden_size == long_clip_config.projection_dim"),
    (dict(token_mining_variant="improved", token_mining_num_heads=3), "not divisible by token_mining_num_heads=3"),
    (dict(queries_per_frame="32"), "queries_per_frame"),
])  # fmt: skip
def test_bad_settings_are_refused_by_name(bad, message):
    with pytest.raises(Exception, match=message):
        HiLightConfig.tiny(**bad)


def test_round_trip_keeps_sub_config_classes_and_values(tmp_path):
    config = HiLightConfig.tiny(text_model_type="qwen2", token_mining_variant="improved", freeze_language_model=True)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is HiLightConfig
    assert type(loaded.text_config).__name__ == "Qwen2Config"
    assert type(loaded.clip_vip_config).__name__ == "CLIPViPVisionConfig"
    assert type(loaded.long_clip_config).__name__ == "CLIPVisionConfig"
    assert loaded.to_diff_dict() == config.to_diff_dict()
    assert loaded.text_config.to_dict() == config.text_config.to_dict()
    assert loaded.freeze_language_model and loaded.freeze_clip_vip and loaded.freeze_long_clip


def test_defaults_are_hilight_2b():
    config = HiLightConfig.hilight_2b()
    text = config.text_config
    assert (text.model_type, text.hidden_size, text.num_hidden_layers) == ("gemma", 2048, 18)
    assert text.num_attention_heads == 8
    assert (text.num_key_value_heads, text.head_dim, text.intermediate_size, text.vocab_size) == (1, 256, 16384, 256000)
    assert config.tie_word_embeddings and config.token_mining_variant == "reference"
    vip, long_clip = config.clip_vip_config, config.long_clip_config
    assert (vip.hidden_size, vip.patch_size, vip.image_size, vip.add_cls_num) == (768, 16, 224, 3)
    assert (long_clip.hidden_size, long_clip.patch_size, long_clip.projection_dim) == (768, 16, 512)
    assert config.num_vision_tokens == 384


def test_full_preset_has_the_published_shapes_on_meta_tensors():
    config = HiLightConfig.hilight_2b()
    with torch.device("meta"):
        model = HiLightForConditionalGeneration(config)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert shapes["model.clip_vip.embeddings.patch_embedding.weight"] == (768, 3, 16, 16)
    assert shapes["model.clip_vip.embeddings.position_embedding.weight"] == (197, 768)
    assert shapes["model.clip_vip.embeddings.added_cls"] == (3, 768)
    assert shapes["model.clip_vip.embeddings.temporal_embedding"] == (1, 12, 768)
    assert shapes["model.long_clip.visual_projection.weight"] == (512, 768)
    assert shapes["model.token_mining.LongCLIP_projector.0.weight"] == (32, 1)
    assert shapes["model.token_mining.CLIP_VIP_projector.0.weight"] == (768, 768)
    assert shapes["model.token_mining.key_projector.1.weight"] == (512, 768)
    assert shapes["model.token_mining.tokenizer_projector.3.weight"] == (2048, 2048)
    assert shapes["model.language_model.embed_tokens.weight"] == (256000, 2048)
    assert len(model.model.language_model.layers) == 18 and len(model.model.clip_vip.encoder.layers) == 12
    assert shapes["model.language_model.layers.0.self_attn.k_proj.weight"] == (256, 2048)  # one KV head of 256
    mining = sum(p.numel() for n, p in model.named_parameters() if ".token_mining." in n)
    assert round(mining / 1e6, 1) == 6.9 and config.num_vision_tokens == 384
