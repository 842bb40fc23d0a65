"""push_to_hub: model, processor and model card in one commit, checked up to the upload (huggingface_hub's
create_repo / create_commit are intercepted; nothing leaves the machine)."""

import io
import json

import pytest
import torch
from hilight_fixtures import tiny_model
from huggingface_hub import CommitInfo, HfApi, ModelCard
from safetensors.torch import load

from modeling_hilight import HiLightProcessor, HiLightVideoProcessor, build_hilight_tokenizer
from modeling_hilight.training.cli import main
from modeling_hilight.training.hub import push_to_hub

MODEL_FILES = {
    "config.json", "generation_config.json", "model.safetensors", "modeling_hilight.py", "configuration_hilight.py",
    "token_mining.py", "modeling_clip_vip_plus.py", "configuration_clip_vip_plus.py", "sparc_loss.py",
    "language_mask.py",
}  # fmt: skip


@pytest.fixture
def hub(monkeypatch):
    """Records what would be sent: the repo creations and each commit's files with their bytes."""
    calls = {"repos": [], "commits": []}

    def create_repo(self, repo_id, **kwargs):
        calls["repos"].append((repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}"

    def create_commit(self, repo_id, operations, commit_message, **kwargs):
        files = {}
        for op in operations:
            with op.as_file() as f:
                files[op.path_in_repo] = f.read()
        calls["commits"].append({"repo_id": repo_id, "message": commit_message, "files": files, **kwargs})
        return CommitInfo(commit_url=f"https://huggingface.co/{repo_id}/commit/{'0' * 40}", commit_message=commit_message,
                          commit_description="", oid="0" * 40)  # fmt: skip

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    return calls


def processor_for(model):
    return HiLightProcessor(HiLightVideoProcessor(size=32, num_frames=12),
                            build_hilight_tokenizer(["which ball ?"]), queries_per_frame=4)  # fmt: skip


def test_push_to_hub_sends_model_processor_and_card_in_one_commit(hub, tmp_path):
    model = tiny_model()
    processor = processor_for(model)
    processor.save_pretrained(tmp_path / "processor")  # what a processor alone writes, for comparison
    info = push_to_hub(model, processor, "org/hilight-tiny", base_model="google/gemma-2b", tags=["demo"], private=True)
    assert info.oid == "0" * 40
    assert hub["repos"] == [("org/hilight-tiny", {"private": True, "exist_ok": True, "repo_type": "model"})]
    assert len(hub["commits"]) == 1
    files = hub["commits"][0]["files"]
    processor_files = {p.name for p in (tmp_path / "processor").iterdir()}
    assert {"processor_config.json", "tokenizer.json", "tokenizer_config.json", "processing_hilight.py"} <= processor_files
    assert set(files) == MODEL_FILES | processor_files | {"README.md"}
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]

    weights = load(files["model.safetensors"])  # safetensors, and exactly the model's weights
    state = model.state_dict()
    assert set(weights) <= set(state) and "model.token_mining.query_projector.1.weight" in weights
    for name, tensor in weights.items():
        torch.testing.assert_close(tensor, state[name], atol=0, rtol=0)
    config = json.loads(files["config.json"])
    assert config["model_type"] == "hilight" and config["auto_map"]["AutoModelForMultimodalLM"]

    card = ModelCard(files["README.md"].decode(), ignore_metadata_errors=False)
    assert card.data.pipeline_tag == "video-text-to-text" and card.data.library_name == "transformers"
    assert card.data.base_model == "google/gemma-2b" and card.data.license == "gemma"  # a Gemma LLM
    assert {"hilight", "video-text-to-text", "custom_code", "demo"} <= set(card.data.tags)
    assert "# HiLight" in card.text and "pipeline(\"video-text-to-text\"" in card.text


def test_push_to_hub_refuses_what_it_cannot_publish(hub):
    from peft import get_peft_model

    from modeling_hilight.training.lora import hilight_lora_config

    model = tiny_model(text_model_type="llama")
    with pytest.raises(ValueError, match="needs base_model"):
        push_to_hub(model, processor_for(model), "org/x", base_model=None)
    with pytest.raises(ValueError, match="push the merged model, not a PEFT model"):
        push_to_hub(get_peft_model(model, hilight_lora_config(model, r=2)), None, "org/x", base_model="a/b")
    assert hub["commits"] == []


def test_merge_lora_cli_pushes_the_merged_folder(hub, tmp_path, capsys):
    from peft import get_peft_model

    from modeling_hilight.training.lora import hilight_lora_config

    base = tiny_model(text_model_type="llama")
    base.save_pretrained(tmp_path / "base")
    get_peft_model(base, hilight_lora_config(base, r=2)).save_pretrained(tmp_path / "adapter")
    args = ["merge-lora", "--adapter", str(tmp_path / "adapter"), "--base", str(tmp_path / "base"), "--out",
            str(tmp_path / "merged"), "--push-to-hub", "org/merged"]  # fmt: skip
    with pytest.raises(SystemExit, match="needs --base-model"):
        main(args)
    assert main([*args, "--base-model", "meta-llama/Llama-3.2-1B", "org/encoder"]) == 0
    assert "pushed to org/merged" in capsys.readouterr().out
    files = hub["commits"][0]["files"]
    assert set(files) == {p.name for p in (tmp_path / "merged").iterdir()} and MODEL_FILES <= set(files)
    card = ModelCard(io.BytesIO(files["README.md"]).read().decode())
    assert card.data.base_model == ["meta-llama/Llama-3.2-1B", "org/encoder"] and card.data.license == "apache-2.0"


def test_readme_hub_snippet(hub, tmp_path):
    from readme_snippets import run_snippet

    model = tiny_model()
    model.save_pretrained(tmp_path / "hilight-chat")
    processor_for(model).save_pretrained(tmp_path / "hilight-chat")
    run_snippet("hub", tmp_path)
    (commit,) = hub["commits"]
    assert commit["repo_id"] == "your-org/hilight-billiards" and "model.safetensors" in commit["files"]
    assert ModelCard(commit["files"]["README.md"].decode()).data.base_model == "google/gemma-2b"
