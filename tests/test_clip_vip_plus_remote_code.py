"""A saved CLIP-ViP+ folder carries its code and loads in a process without this package."""

import json

import torch
from clip_vip_fixtures import captions, tiny_config, videos
from remote_code_utils import run_without_package
from safetensors.torch import load_file, save_file

from modeling_hilight import CLIPViPPlusModel


def test_saved_folder_loads_with_trust_remote_code_in_a_fresh_process(tmp_path):
    torch.manual_seed(0)
    model = CLIPViPPlusModel(tiny_config()).eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_clip_vip_plus.CLIPViPPlusModel"
    for name in ("modeling_clip_vip_plus.py", "configuration_clip_vip_plus.py", "sparc_loss.py", "language_mask.py"):
        assert (folder / name).exists(), name

    ids, mask = captions()
    pixels = videos()
    save_file({"ids": ids, "mask": mask, "pixels": pixels}, tmp_path / "inputs.safetensors")
    expected = model(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels, return_loss=True)

    run_without_package(
        """
        import torch
        from safetensors.torch import load_file, save_file
        from transformers import AutoModel
        model = AutoModel.from_pretrained("model", trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        x = load_file("inputs.safetensors")
        out = model(input_ids=x["ids"], attention_mask=x["mask"], pixel_values_videos=x["pixels"], return_loss=True)
        save_file({"logits": out.logits_per_text.contiguous(), "loss": out.loss.reshape(1)}, "outputs.safetensors")
        """,
        tmp_path,
    )
    got = load_file(tmp_path / "outputs.safetensors")
    torch.testing.assert_close(got["logits"], expected.logits_per_text, atol=0, rtol=0)
    torch.testing.assert_close(got["loss"], expected.loss.reshape(1), atol=0, rtol=0)
