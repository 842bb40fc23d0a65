"""The data set folder: splits, columns, LLaVA JSON, the loader, the CLI."""

import json

import numpy as np
import pytest
from datasets import load_from_disk

from modeling_hilight.processing.video_decoding import decode_video
from modeling_hilight.training.billiards.dataset import load_billiards, make_dataset
from modeling_hilight.training.billiards.physics import ShotConfig, simulate
from modeling_hilight.cli import main as cli_main
from modeling_hilight.training.data import load_training_data


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("billiards") / "data"
    assert cli_main(["data", "--out", str(out), "--num-clips", "6", "--workers", "2", "--width", "64",
                     "--height", "32", "--max-balls", "6", "--no-progress"]) == 0  # fmt: skip
    return out


def test_splits_columns_and_ground_truth(folder):
    data = load_from_disk(str(folder))
    assert {k: len(v) for k, v in data.items()} == {"train": 4, "validation": 1, "test": 1}
    seeds = {split: set(data[split]["seed"]) for split in data}
    assert not (seeds["train"] & seeds["validation"]) and not (seeds["train"] & seeds["test"])
    for row in data["train"]:
        events = json.loads(row["events"])
        positions = json.loads(row["ball_positions"])
        assert 1 <= row["num_balls"] <= 6 and len(events["balls"]) == row["num_balls"] + 1
        # the event log is the simulation's, re-run here from the seed
        assert events == json.loads(json.dumps(simulate(row["seed"], config=ShotConfig(max_balls=6)).event_log()))
        frames, meta, _ = decode_video(folder / row["video"], row["num_frames"])
        assert meta.total_num_frames == len(positions) == row["num_frames"] and frames.shape[1:] == (32, 64, 3)
        # a pocketed ball disappears from the per-frame positions
        pocketed = {e["balls"][0] for e in events["events"] if e["kind"] == "pocket"}
        assert {b["ball"] for b in positions[-1]} == set(events["balls"]) - pocketed
        assert row["caption"] == row["captions"][0] and len(set(row["captions"])) == len(row["captions"])
        # the conversation asks the chosen questions and answers them
        turns = row["messages"]
        assert len(turns) == 2 * len(row["questions"])
        for (user, assistant), qa in zip(zip(turns[::2], turns[1::2]), row["questions"]):
            assert user["content"][-1]["text"] == qa["question"]
            assert assistant["content"][0]["text"] in (qa["sentence"], qa["answer"][0].upper() + qa["answer"][1:] + ".")
        assert turns[0]["content"][0]["type"] == "video" and turns[0]["content"][0]["path"] == row["video"]


def test_llava_json_and_the_loaders_agree(folder):
    llava = json.loads((folder / "llava_train.json").read_text())
    data = load_billiards(folder)
    train = load_billiards(folder, "train")
    assert [r["id"] for r in llava] == train["id"] and set(data) == {"train", "validation", "test"}
    for record, row in zip(llava, train):
        assert record["conversations"][0]["value"].startswith("<video>\n")
        assert [t["from"] for t in record["conversations"]] == ["human", "gpt"] * (len(record["conversations"]) // 2)
        assert (folder / record["video"]).is_file() and row["video"] == str(folder / record["video"])
        assert row["messages"][0]["content"][0]["path"] == str(folder / record["video"])
    from_json = load_training_data(folder / "llava_train.json")
    strip = lambda m: [(t["role"], [(c["type"], c.get("path"), c.get("text")) for c in t["content"]]) for t in m]  # noqa
    for a, b in zip(train, from_json):
        assert strip(a["messages"]) == strip(b["messages"])
    with pytest.raises(KeyError, match="no split 'dev'"):
        load_billiards(folder, "dev")


def test_answer_balance_file_matches_the_asked_questions(folder):
    balance = json.loads((folder / "answer_balance.json").read_text())
    data = load_from_disk(str(folder))
    asked = [q for split in data for row in data[split] for q in row["questions"]]
    for kind, row in balance["all"].items():
        answers = [q["answer"] for q in asked if q["type"] == kind]
        top = max(answers.count(a) for a in set(answers))
        assert row["count"] == len(answers) and row["majority_accuracy"] == round(top / len(answers), 3)


def test_same_seed_same_data_whatever_the_workers(tmp_path, folder):
    make_dataset(tmp_path / "one", 6, width=64, height=32, max_balls=6, workers=1, progress=False)
    a, b = load_from_disk(str(tmp_path / "one")), load_from_disk(str(folder))
    for split in a:
        for column in ("seed", "caption", "messages", "events", "ball_positions"):
            assert a[split][column] == b[split][column], (split, column)


def test_bad_arguments_are_refused_with_the_reason(tmp_path, capsys):
    assert cli_main(["data", "--out", str(tmp_path / "x"), "--num-clips", "0"]) == 2
    assert "num_clips must be a positive integer, got 0" in capsys.readouterr().err
    assert cli_main(["data", "--out", str(tmp_path / "x"), "--width", "65"]) == 2
    assert "frame size must be even" in capsys.readouterr().err
    assert cli_main(["data", "--out", str(tmp_path / "x"), "--min-balls", "5", "--max-balls", "3"]) == 2
    assert "min_balls <= max_balls" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        make_dataset(tmp_path / "file", 2, progress=False)
    with pytest.raises(FileNotFoundError, match="not a billiards data set"):
        load_billiards(tmp_path)


def test_strip_png(tmp_path):
    from PIL import Image

    assert cli_main(["data", "--strip", str(tmp_path / "strip.png")]) == 0
    image = np.asarray(Image.open(tmp_path / "strip.png"))
    assert image.shape == (200, 4 * 400 + 3 * 2, 3)
