"""The data set folder: splits, columns, LLaVA JSON, the CLI."""

import json

import numpy as np
from datasets import load_from_disk

from modeling_hilight.processing.video_decoding import decode_video
from modeling_hilight.training.cli import main as cli_main
from modeling_hilight.training.data import load_training_data


def test_cli_makes_a_data_set_that_both_loaders_read_alike(tmp_path, capsys):
    out = tmp_path / "billiards"
    assert cli_main(["data", "--out", str(out), "--num-clips", "5", "--workers", "1", "--width", "64",
                     "--height", "32"]) == 0  # fmt: skip
    assert "wrote 5 clips {'train': 3, 'validation': 1, 'test': 1}" in capsys.readouterr().out
    data = load_from_disk(str(out))
    seeds = {split: set(data[split]["seed"]) for split in data}
    assert not (seeds["train"] & seeds["validation"]) and not (seeds["train"] & seeds["test"])
    row = data["train"][0]
    events = json.loads(row["events"])
    positions = json.loads(row["ball_positions"])
    assert len(positions) == row["num_frames"] and events["events"][0]["kind"] == "strike"
    frames, meta, _ = decode_video(out / row["video"], row["num_frames"])
    assert meta.total_num_frames == row["num_frames"] and frames.shape[1:] == (32, 64, 3)
    assert row["caption"] == row["captions"][0]
    # the messages column and the LLaVA JSON give the same conversations
    from_hf = load_training_data(out)["train"]
    from_json = load_training_data(out / "llava_train.json")
    for a, b in zip(from_hf, from_json):
        strip = lambda m: [(t["role"], [(c["type"], c.get("path"), c.get("text")) for c in t["content"]]) for t in m]  # noqa
        assert strip(a["messages"]) == strip(b["messages"])
        assert a["messages"][0]["content"][0]["path"] == str(out / a["video"])
    balance = json.loads((out / "answer_balance.json").read_text())
    assert all(0 < row["majority_accuracy"] <= 1 for row in balance.values())


def test_strip_png(tmp_path):
    from PIL import Image

    assert cli_main(["data", "--strip", str(tmp_path / "strip.png")]) == 0
    image = np.asarray(Image.open(tmp_path / "strip.png"))
    assert image.shape == (128, 5 * 256 + 4 * 2, 3)
