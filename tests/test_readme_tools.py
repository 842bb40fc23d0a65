"""The README's snippets for the bundled model, demo, chat and eval, run as written: Python blocks
with exec, `hilight ...` lines through the command's own entry point, in a folder holding what the
snippets name (`shot.mp4`, `data/billiards`) and with a tiny model in the bundled model's place."""

import io
import shlex
import shutil

import pytest
from eval_fixtures import billiards, tiny_checkpoints
from readme_snippets import code_blocks, python_blocks

from modeling_hilight import bundled
from modeling_hilight.cli import main
from modeling_hilight.training.billiards import load_billiards


def commands(block: str) -> list[list[str]]:
    lines = block.replace("\\\n", " ").splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    data = billiards(root / "data" / "billiards", clips=20)
    hilight, encoder = tiny_checkpoints(root / "models", data)
    shutil.copy(load_billiards(data, "test")[0]["video"], root / "shot.mp4")
    return root, hilight, encoder


@pytest.fixture
def in_place(place, monkeypatch):
    root, hilight, encoder = place
    monkeypatch.chdir(root)
    monkeypatch.setitem(bundled.BUNDLED, "hilight", hilight)
    monkeypatch.setitem(bundled.BUNDLED, "clip_vip_plus", encoder)
    return root


def run_commands(heading, capsys, stdin=""):
    ran = 0
    for block in code_blocks(heading, "bash"):
        for argv in commands(block):
            assert argv[0] == "hilight", argv
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr("sys.stdin", io.StringIO(stdin))
                assert main(argv[1:]) == 0, (argv, capsys.readouterr().err)
            ran += 1
    return ran


def test_load_bundled_snippet(in_place, capsys):
    (code,) = python_blocks("### In Python: `load_bundled()`")
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and all(printed)  # two answers


def test_demo_snippet(in_place, capsys):
    assert run_commands("### `hilight demo`", capsys) == 2
    out = capsys.readouterr().out
    assert out.count("answers right in") == 2 and "seed 1234; repeat with --seed 1234" in out


def test_chat_snippet(in_place, capsys):
    assert run_commands("### `hilight chat`", capsys, stdin="Was the cue ball pocketed?\nWhich pocket?\n") == 2
    assert len(capsys.readouterr().out.splitlines()) == 3  # one answer, then a session of two


def test_eval_snippets(in_place, capsys):
    assert run_commands("## Measuring a model: `hilight eval`", capsys) == 1
    out = capsys.readouterr().out
    assert "**Gap" in out and (in_place / "eval" / "eval.json").is_file() and (in_place / "eval" / "eval.md").is_file()
    (code,) = python_blocks("## Measuring a model: `hilight eval`")
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[1].startswith("{'R@1': ")
