"""`hilight merge-lora` writes a standalone checkpoint equal to base + adapter."""

import torch
from hilight_fixtures import frames, prompt, tiny_model
from peft import PeftModel, get_peft_model
from transformers import AutoModelForImageTextToText

from modeling_hilight.cli import main
from modeling_hilight.training.lora import hilight_lora_config


def test_merge_lora_cli(tmp_path, capsys):
    base = tiny_model()
    base.save_pretrained(tmp_path / "base")
    peft = get_peft_model(base, hilight_lora_config(base, r=4, alpha=8, dropout=0.0))
    for name, param in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.2)
    peft.save_pretrained(tmp_path / "adapter")
    assert main(["merge-lora", "--adapter", str(tmp_path / "adapter"), "--base", str(tmp_path / "base"),
                 "--out", str(tmp_path / "merged")]) == 0  # fmt: skip
    assert "wrote the merged model" in capsys.readouterr().out
    merged = AutoModelForImageTextToText.from_pretrained(tmp_path / "merged").eval()
    assert not any("lora" in n for n, _ in merged.named_parameters())
    ids = prompt(merged, [5, 6, 7])
    reference = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(tmp_path / "base"),
                                          tmp_path / "adapter").eval()  # fmt: skip
    with torch.no_grad():
        want = reference(input_ids=ids, pixel_values_videos=frames()).logits
        got = merged(input_ids=ids, pixel_values_videos=frames()).logits
        plain = AutoModelForImageTextToText.from_pretrained(tmp_path / "base")(input_ids=ids, pixel_values_videos=frames()).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(plain, want, atol=1e-3)  # the adapter did change the model
    assert (tmp_path / "merged" / "README.md").exists()  # the model card travels with it
