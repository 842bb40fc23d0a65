"""Training data: the reference's LLaVA-style JSON and `datasets` with `messages`, as one format.

Every sample becomes `{"id", "messages"}` where `messages` is a transformers chat (roles `user` /
`assistant`, content blocks `{"type": "video", "path": ...}` and `{"type": "text", "text": ...}`),
with video paths made absolute. Both the encoder stage (captions) and the chat stages read it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from datasets import Dataset, DatasetDict, load_from_disk

VIDEO_PLACEHOLDER = "<video>"
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


class DataFormatError(ValueError):
    """A data file that does not have the expected layout; the message names the file and the entry."""


def _resolve(path: str, root: str | os.PathLike | None) -> str:
    if root is None or os.path.isabs(path):
        return str(path)
    return str(Path(root) / path)


def llava_record_to_messages(record: dict, video_root: str | os.PathLike | None, source: str = "<record>") -> dict:
    """One LLaVA-style record (`video`, `conversations` with `from`/`value`) -> `{"id", "messages"}`.

    Each `<video>` in a human turn becomes a video block placed before that turn's text, taking the
    record's videos in order (`video` may be one path or a list).
    """
    ident = record.get("id", "?")
    videos = record.get("video") or []
    videos = [videos] if isinstance(videos, str) else list(videos)
    conversations = record.get("conversations")
    if not isinstance(conversations, list) or not conversations:
        raise DataFormatError(f"{source}: record {ident!r} has no 'conversations' list.")
    messages, used = [], 0
    for turn in conversations:
        role = ROLES.get(turn.get("from"))
        if role is None or not isinstance(turn.get("value"), str):
            raise DataFormatError(f"{source}: record {ident!r} has a turn without a known 'from' and a 'value': {turn}")
        text = turn["value"]
        content = []
        if role == "user":
            for _ in range(text.count(VIDEO_PLACEHOLDER)):
                if used >= len(videos):
                    raise DataFormatError(
                        f"{source}: record {ident!r} has more {VIDEO_PLACEHOLDER} placeholders than videos ({len(videos)})."
                    )
                content.append({"type": "video", "path": _resolve(videos[used], video_root)})
                used += 1
            text = text.replace(VIDEO_PLACEHOLDER, "").strip()
        content.append({"type": "text", "text": text})
        messages.append({"role": role, "content": content})
    if used != len(videos):
        raise DataFormatError(f"{source}: record {ident!r} names {len(videos)} videos but {used} {VIDEO_PLACEHOLDER} placeholders.")
    return {"id": str(ident), "messages": messages}


def load_llava_json(path: str | os.PathLike, video_root: str | os.PathLike | None = None) -> Dataset:
    """The reference's data JSON as a `datasets.Dataset` with `id` and `messages`."""
    try:
        records = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DataFormatError(f"{path}: cannot read it as JSON ({error}).") from error
    if not isinstance(records, list):
        raise DataFormatError(f"{path}: expected a JSON list of records, found {type(records).__name__}.")
    root = video_root if video_root is not None else Path(path).parent
    return Dataset.from_list([llava_record_to_messages(r, root, str(path)) for r in records])


def absolute_video_paths(messages: list[dict], root: str | os.PathLike) -> list[dict]:
    """A copy of `messages` whose relative video paths are resolved against `root`."""
    out = []
    for turn in messages:
        content = []
        for block in turn["content"]:
            block = {k: v for k, v in block.items() if v is not None}
            if block.get("type") == "video" and "path" in block:
                block["path"] = _resolve(block["path"], root)
            content.append(block)
        out.append({"role": turn["role"], "content": content})
    return out


def video_paths(messages: list[dict]) -> list[str]:
    """The videos of a conversation, in order of appearance."""
    return [b["path"] for turn in messages for b in turn["content"] if b.get("type") == "video" and b.get("path")]


def _absolute(example: dict, root) -> dict:
    out = {}
    if "messages" in example:
        out["messages"] = absolute_video_paths(example["messages"], root)
    if isinstance(example.get("video"), str):
        out["video"] = _resolve(example["video"], root)
    return out


def load_training_data(source: str | os.PathLike, video_root: str | os.PathLike | None = None) -> DatasetDict | Dataset:
    """A `datasets` folder (saved with `save_to_disk`), a LLaVA-style `.json`, or a folder of one JSON per split."""
    source = Path(source)
    if not source.exists():
        raise DataFormatError(f"{source}: no such data file or folder.")
    if source.suffix == ".json":
        return load_llava_json(source, video_root)
    if (source / "dataset_dict.json").exists() or (source / "dataset_info.json").exists():
        data = load_from_disk(str(source))
        root = video_root if video_root is not None else source
        return data.map(lambda example: _absolute(example, root))
    splits = {p.stem: load_llava_json(p, video_root or source) for p in sorted(source.glob("*.json"))}
    if not splits:
        raise DataFormatError(f"{source}: neither a saved `datasets` folder nor a folder of LLaVA-style .json files.")
    return DatasetDict(splits)


__all__ = [
    "DataFormatError",
    "absolute_video_paths",
    "llava_record_to_messages",
    "load_llava_json",
    "load_training_data",
    "video_paths",
]
