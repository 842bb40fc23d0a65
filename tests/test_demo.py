"""`hilight demo` (the README's main job): the bundled model on fresh clips in seconds; `--train`
runs the pipeline with a bar per stage, a summary line each and the full logs in files."""

import json
import os
import re
import subprocess
import sys

import pytest
from eval_fixtures import billiards, tiny_checkpoints

from modeling_hilight import bundled
from modeling_hilight.answer_matching import match_answer
from modeling_hilight.bundled import load_model
from modeling_hilight.cli import main
from modeling_hilight.demo import demo
from modeling_hilight.evaluation import generate_answers
from modeling_hilight.training.billiards import make_clip
from modeling_hilight.training.billiards.text import answer_fact

RAW_DICT = re.compile(r"\{['\"](loss|train_runtime|eval_loss|grad_norm|learning_rate)['\"]\s*:")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return tiny_checkpoints(root, billiards(root / "data", clips=12))[0]


def run_cli(*args, timeout=600):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "modeling_hilight.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)  # fmt: skip


def test_fast_demo_answers_fresh_clips_beside_the_truth(checkpoint, tmp_path, capsys):
    result = demo(str(checkpoint), clips=2, questions=3, seed=4242, out=str(tmp_path / "clips"))
    printed = capsys.readouterr().out
    assert "seed 4242; repeat with --seed 4242" in printed and result["asked"] == 6 == printed.count("  Q: ")
    model, processor = load_model(checkpoint)
    (tmp_path / "again" / "clips").mkdir(parents=True)
    for i in range(2):  # the same shots, simulated again here
        record = make_clip("check", i, 4242 + i, str(tmp_path / "again"), {"width": 128, "height": 64, "fps": 12})
        rows = [r for r in result["rows"] if r["clip"] == f"demo_{i:06d}"]
        assert len({r["question"] for r in rows}) == 3
        truths = {qa["question"]: qa for qa in record["qa"]}
        for r in rows:
            qa = truths[r["question"]]
            assert r["truth"] == qa["answer"]
            assert r["right"] == match_answer(qa["type"], r["answer"], answer_fact(qa["type"], qa["answer"]))
            assert f"truth: {qa['answer']!r}" in printed
    # the printed answers are the model's: asked again here, one at a time
    clip = tmp_path / "clips" / "clips" / "demo_000000.mp4"
    first = result["rows"][0]
    (again,) = generate_answers(model, processor, [[{"role": "user", "content": [
        {"type": "video", "path": str(clip)}, {"type": "text", "text": first["question"]}]}]])  # fmt: skip
    assert again == first["answer"]
    assert f"{sum(r['right'] for r in result['rows'])} of 6 answers right" in printed
    assert demo(str(checkpoint), clips=2, questions=3, seed=4242)["rows"] == result["rows"]  # repeatable


def test_demo_without_a_bundled_model_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(bundled.BUNDLED, "hilight", tmp_path / "none")
    assert main(["demo"]) == 1
    assert capsys.readouterr().err == (f"hilight demo: {tmp_path / 'none'}: the bundled hilight model is not in this "
                                       "installation (no config.json). Build it with `make bundled-model`, or pass a "
                                       "checkpoint folder with --model.\n")  # fmt: skip


def stage_log(folder):
    entries = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
    state = json.loads((folder / "trainer_state.json").read_text())
    return entries, state


def test_demo_train_shows_a_bar_and_a_line_per_stage_and_logs_to_files(tmp_path):
    result = run_cli("demo", "--train", "--out", tmp_path / "demo", "--clips", "6", "--steps", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    terminal = result.stdout + result.stderr
    assert not RAW_DICT.search(terminal), terminal[-2000:]
    for stage in ("encoder", "align", "instruct"):
        assert len(re.findall(rf"^2/3 {stage} ", result.stdout, re.M)) == 1
        assert re.search(rf"(^|\r){stage}: 100%\|", result.stderr, re.M)  # its bar, finished
        entries, state = stage_log(tmp_path / "demo" / stage)
        assert [e["loss"] for e in entries if "loss" in e] == [e["loss"] for e in state["log_history"] if "loss" in e]
        assert len([e for e in entries if "loss" in e]) == 3 and "train_runtime" in entries[-1]
    assert "3/3 the merged model (HiLightForConditionalGeneration" in result.stdout
    assert result.stdout.count("    Q: ") == 1 and "truth:" in result.stdout  # one test clip at this size
    assert (tmp_path / "demo" / "instruct" / "merged" / "model.safetensors").exists()


def test_hilight_train_prints_one_bar_and_a_summary(tmp_path):
    data = billiards(tmp_path / "data", clips=6)
    out = tmp_path / "align"
    recipe = os.path.join(os.path.dirname(__file__), "..", "training", "recipes", "align_tiny.yaml")
    result = run_cli("train", "align", "--config", recipe, "--data", data, "--output_dir", out, "--max_steps", "4",
                     "--logging_steps", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert not RAW_DICT.search(result.stdout + result.stderr), (result.stdout + result.stderr)[-2000:]
    assert result.stdout.splitlines()[-1].startswith("align: loss ")
    assert re.search(r"(^|\r)align: 100%\|", result.stderr, re.M), result.stderr[-2000:]
    entries, state = stage_log(out)
    assert [e["step"] for e in entries if "loss" in e] == [1, 2, 3, 4]
    assert all(e.pop("skipped_samples") == 0 for e in entries)  # added to each log line by our callback
    assert entries == state["log_history"]  # every entry, as it came
