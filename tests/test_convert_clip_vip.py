"""Converting the published CLIP-ViP checkpoints and plain CLIP folders into CLIP-ViP+."""

import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from modeling_hilight import CLIPViPPlusModel
from modeling_hilight.conversion_utils import CheckpointError
from modeling_hilight.convert_clip_vip import clip_vip_plus_from_clip, convert_clip_vip_checkpoint
from modeling_hilight.cli import main as cli_main

WIDTH = 64  # one head of CLIP's width 64, so head counts are inferable as in the real checkpoints


def tiny_clip() -> CLIPModel:
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=50, hidden_size=WIDTH, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=1, max_position_embeddings=12),
        vision_config=dict(hidden_size=WIDTH, intermediate_size=96, num_hidden_layers=2, num_attention_heads=1,
                           image_size=32, patch_size=16),
        projection_dim=16,
    )
    return CLIPModel(config).eval()


def published_state_dict(prefix: str = "clipmodel.") -> dict[str, torch.Tensor]:
    """Exactly the layout of pretrain_clipvip_base_*.pt: CLIPModel keys under `clipmodel.`, the
    persistent position_ids buffers of the transformers 4.x era, `added_cls` and `temporal_embedding`."""
    state = {prefix + k: v.clone() for k, v in tiny_clip().state_dict().items()}
    state[prefix + "text_model.embeddings.position_ids"] = torch.arange(12)[None]
    state[prefix + "vision_model.embeddings.position_ids"] = torch.arange(5)[None]
    g = torch.Generator().manual_seed(1)
    state[prefix + "vision_model.embeddings.added_cls"] = torch.randn(3, WIDTH, generator=g)
    state[prefix + "vision_model.embeddings.temporal_embedding"] = torch.randn(1, 12, WIDTH, generator=g)
    return state


@pytest.mark.parametrize("prefix", ["clipmodel.", "module.clipmodel."])
def test_published_checkpoint_converts_key_for_key(tmp_path, prefix):
    state = published_state_dict(prefix)
    path = tmp_path / "pretrain_clipvip_base_16.pt"
    torch.save(state, path)
    model = convert_clip_vip_checkpoint(path)
    vision = model.config.vision_config
    assert (vision.patch_size, vision.image_size, vision.num_hidden_layers, vision.add_cls_num, vision.temporal_size) == (
        16, 32, 2, 3, 12)
    assert model.config.text_config.max_position_embeddings == 12 and model.config.projection_dim == 16
    converted = model.state_dict()
    used = 0
    for key, value in state.items():
        name = key[len(prefix):]
        if name.endswith("position_ids"):
            continue
        torch.testing.assert_close(converted[name], value, atol=0, rtol=0)
        used += 1
    new = set(converted) - {k[len(prefix):] for k in state}
    assert new == {"local_text_projection.weight", "local_visual_projection.weight"}
    assert used == len(converted) - 2


def test_converted_model_round_trips_and_runs_twelve_frames(tmp_path):
    torch.save(published_state_dict(), tmp_path / "ckpt.pt")
    model = convert_clip_vip_checkpoint(tmp_path / "ckpt.pt", language_mask_policy="special_tokens").eval()
    model.save_pretrained(tmp_path / "out")
    loaded = CLIPViPPlusModel.from_pretrained(tmp_path / "out").eval()
    pixels = torch.randn(2, 12, 3, 32, 32)
    ids = torch.tensor([[49406 % 50, 5, 6, 49], [3, 4, 49, 0]])
    a = model(input_ids=ids, pixel_values_videos=pixels)
    b = loaded(input_ids=ids, pixel_values_videos=pixels)
    torch.testing.assert_close(a.logits_per_text, b.logits_per_text, atol=0, rtol=0)


def test_cli_converts_a_checkpoint(tmp_path, capsys):
    torch.save(published_state_dict(), tmp_path / "ckpt.pt")
    assert cli_main(["convert", "clip-vip", "--checkpoint", str(tmp_path / "ckpt.pt"), "--out", str(tmp_path / "o")]) == 0
    assert "wrote CLIPViPPlusModel" in capsys.readouterr().out
    assert (tmp_path / "o" / "model.safetensors").exists()


def test_missing_file_and_wrong_file_are_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: no such checkpoint file"):
        convert_clip_vip_checkpoint(tmp_path / "nope.pt")
    text = tmp_path / "notes.pt"
    text.write_text("this is not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.pt: not a readable PyTorch checkpoint"):
        convert_clip_vip_checkpoint(text)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pt: the file is empty"):
        convert_clip_vip_checkpoint(empty)
    torch.save({"vision_model.embeddings.patch_embedding.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a CLIP/CLIP-ViP state dict"):
        convert_clip_vip_checkpoint(tmp_path / "other.pt")


def test_shape_mismatch_missing_and_unexpected_keys_are_all_listed(tmp_path):
    state = published_state_dict()
    state["clipmodel.vision_model.encoder.layers.1.mlp.fc2.weight"] = torch.zeros(WIDTH, 7)
    del state["clipmodel.text_model.encoder.layers.0.self_attn.k_proj.bias"]
    state["clipmodel.text_model.pooler.weight"] = torch.zeros(3)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError) as error:
        convert_clip_vip_checkpoint(tmp_path / "bad.pt")
    message = str(error.value)
    assert "bad.pt does not fit CLIPViPPlusModel" in message
    assert "vision_model.encoder.layers.1.mlp.fc2.weight: checkpoint (64, 7) vs model (64, 96)" in message
    assert "missing keys (1): text_model.encoder.layers.0.self_attn.k_proj.bias" in message
    assert "unexpected keys (1): text_model.pooler.weight" in message


def test_corrupt_position_ids_are_rejected(tmp_path):
    state = published_state_dict()
    state["clipmodel.text_model.embeddings.position_ids"] = torch.arange(12)[None].flip(-1)
    torch.save(state, tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointError, match="text_model.embeddings.position_ids is not 0..11"):
        convert_clip_vip_checkpoint(tmp_path / "ckpt.pt")


def test_start_from_a_plain_clip_folder(tmp_path):
    clip = tiny_clip()
    clip.save_pretrained(tmp_path / "clip")
    model = clip_vip_plus_from_clip(tmp_path / "clip", vision_config={"temporal_size": 8},
                                    language_mask_policy="special_tokens").eval()
    assert model.vision_model.embeddings.temporal_embedding.shape == (1, 8, WIDTH)
    assert model.vision_model.embeddings.added_cls.shape == (3, WIDTH)
    assert torch.count_nonzero(model.vision_model.embeddings.temporal_embedding) == 0  # zero-initialised
    for key, value in clip.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, atol=0, rtol=0)
    # the text tower is CLIP's, untouched: same text embeddings as transformers' CLIPModel
    ids = torch.tensor([[1, 5, 9, 49]])
    torch.testing.assert_close(model.get_text_features(ids).pooler_output, clip.get_text_features(ids).pooler_output)
