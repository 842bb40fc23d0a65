"""Publishing HiLight on the Hugging Face Hub: model, processor and model card in one commit.

    from modeling_hilight.training.hub import push_to_hub
    push_to_hub(model, processor, "org/hilight-billiards", base_model="google/gemma-2b")

The card is `model_card.md` (next to this file) under metadata written here: `pipeline_tag:
video-text-to-text` (the Hub's task for video chat), `library_name: transformers`, `base_model`,
`license` and tags. Weights are safetensors only; anything else stops the upload.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

CARD_BODY = Path(__file__).with_name("model_card.md")
TAGS = ("hilight", "video", "video-text-to-text", "billiards", "custom_code")
UNSAFE_WEIGHTS = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".h5", ".msgpack")


def default_license(model) -> str:
    """Gemma's terms for a Gemma LLM (the published HiLight), else the package's Apache-2.0."""
    llm = getattr(getattr(model, "config", None), "text_config", None)
    return "gemma" if str(getattr(llm, "model_type", "")).startswith("gemma") else "apache-2.0"


def model_card(model, base_model: str | Sequence[str] | None = None, license: str | None = None,
               tags: Sequence[str] = ()) -> ModelCard:  # fmt: skip
    """The package's card with this model's metadata (`base_model` omitted when None)."""
    data = ModelCardData(
        library_name="transformers",
        pipeline_tag="video-text-to-text",
        license=license or default_license(model),
        base_model=list(base_model) if isinstance(base_model, (list, tuple)) else base_model,
        tags=list(dict.fromkeys([*TAGS, *tags])),
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{CARD_BODY.read_text()}")


def save_for_hub(model, processor, folder, card: ModelCard) -> list[Path]:
    """Model (safetensors and its code), processor and `README.md` in `folder`; the files written."""
    if hasattr(model, "merge_and_unload"):
        raise ValueError("push the merged model, not a PEFT model: `merge_peft_model(...)` or `model.merge_and_unload()`.")
    folder = Path(folder)
    model.save_pretrained(folder)
    if processor is not None:
        processor.save_pretrained(folder)
    card.save(folder / "README.md")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    unsafe = [p.name for p in files if p.suffix in UNSAFE_WEIGHTS]
    if unsafe:
        raise ValueError(f"refusing to publish pickled weights ({', '.join(unsafe)}); only safetensors go to the Hub.")
    return files


def push_folder(folder, repo_id: str, *, private: bool | None = None, token: str | None = None,
                commit_message: str = "Upload HiLight", create_pr: bool = False):  # fmt: skip
    """Every file of `folder` (subfolders kept) in one commit to `repo_id`, created if needed."""
    from huggingface_hub import CommitOperationAdd, HfApi

    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.relative_to(folder).parts)
    unsafe = [p.name for p in files if p.suffix in UNSAFE_WEIGHTS]
    if unsafe:
        raise ValueError(f"{folder}: refusing to publish pickled weights ({', '.join(unsafe)}); only safetensors.")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    operations = [CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p)) for p in files]
    return api.create_commit(repo_id, operations=operations, commit_message=commit_message, create_pr=create_pr,
                             repo_type="model")  # fmt: skip


def push_to_hub(model, processor, repo_id: str, *, base_model: str | Sequence[str], license: str | None = None,
                tags: Sequence[str] = (), private: bool | None = None, token: str | None = None,
                commit_message: str = "Upload HiLight", create_pr: bool = False):  # fmt: skip
    """Model, processor and model card to `repo_id` in one commit. `base_model`: the Hub id(s) the weights
    derive from (required: the card names them). `license`: by default Gemma's for a Gemma LLM, else
    Apache-2.0. Returns huggingface_hub's `CommitInfo`."""
    if not base_model:
        raise ValueError("push_to_hub needs base_model: the Hub id(s) the weights derive from, e.g. 'google/gemma-2b'.")
    card = model_card(model, base_model=base_model, license=license, tags=tags)
    with tempfile.TemporaryDirectory() as folder:
        save_for_hub(model, processor, folder, card)
        return push_folder(folder, repo_id, private=private, token=token, commit_message=commit_message,
                           create_pr=create_pr)  # fmt: skip


__all__ = ["model_card", "push_folder", "push_to_hub", "save_for_hub"]
