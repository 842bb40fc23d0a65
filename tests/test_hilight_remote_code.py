"""A saved HiLight folder carries its code and generates in a process without this package."""

import json

import torch
from hilight_fixtures import frames, prompt, tiny_model
from remote_code_utils import run_without_package
from safetensors.torch import load_file, save_file


def test_saved_hilight_generates_identically_with_trust_remote_code(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["auto_map"]["AutoModelForImageTextToText"] == "modeling_hilight.HiLightForConditionalGeneration"
    for name in ("modeling_hilight.py", "configuration_hilight.py", "token_mining.py", "modeling_clip_vip_plus.py",
                 "configuration_clip_vip_plus.py", "sparc_loss.py", "language_mask.py"):
        assert (tmp_path / "model" / name).exists(), name
    ids = prompt(model, [5, 6, 7])
    save_file({"ids": ids, "videos": frames()}, tmp_path / "inputs.safetensors")
    logits = model(input_ids=ids, pixel_values_videos=frames()).logits
    tokens = model.generate(input_ids=ids, pixel_values_videos=frames(), do_sample=False, max_new_tokens=6)
    run_without_package(
        """
        from safetensors.torch import load_file, save_file
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_pretrained("model", trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        x = load_file("inputs.safetensors")
        logits = model(input_ids=x["ids"], pixel_values_videos=x["videos"]).logits
        tokens = model.generate(input_ids=x["ids"], pixel_values_videos=x["videos"], do_sample=False, max_new_tokens=6)
        save_file({"logits": logits.contiguous(), "tokens": tokens.contiguous()}, "outputs.safetensors")
        """,
        tmp_path,
    )
    got = load_file(tmp_path / "outputs.safetensors")
    torch.testing.assert_close(got["logits"], logits, atol=0, rtol=0)
    assert torch.equal(got["tokens"], tokens)
