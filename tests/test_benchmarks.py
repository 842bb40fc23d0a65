"""The benchmark command's parts that do not depend on speed: ratios from paired repeats, the table
writer and parser, merging runs, the README copy, the models the benchmarks build, and a smoke run of
`python -m benchmarks` at trivial sizes. No assertion here is about how fast anything is."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import harness, models
from benchmarks.harness import COLUMNS, PeakMemory, Row, Side, merge, parse, render

ROOT = Path(__file__).resolve().parents[1]


def row(key, a=(2.0, 4.0, 6.0), b=(1.0, 2.0, 2.0), **kwargs):
    return Row(key, f"what {key}", Side("A", list(a), "s"), Side("B", list(b), "s"), "<= 1", "`s.py`",
               machine="test machine", date="2026-01-02", **kwargs)  # fmt: skip


def test_the_ratio_is_taken_per_paired_repeat_and_shown_with_its_spread():
    r = row("x/y")
    assert r.ratios == [2.0, 2.0, 3.0]  # not median(A) / median(B) = 4 / 2
    cells = r.cells()
    assert cells[1] == "**2.00** (2.00-3.00, n=3)"
    assert cells[2] == "A 4.00 s (2.00-6.00)" and cells[3] == "B 2.00 s (1.00-2.00)"
    assert cells[5:] == ["test machine", "2026-01-02", "`s.py`"]
    single = Row("c/1", "count", Side("A", [384], ""), Side("B", [2056], ""), machine="m", date="d")
    assert single.cells()[1] == "**0.187** (n=1)" and single.cells()[2] == "A 384"


def test_rows_refuse_unpaired_values_and_missing_reasons():
    with pytest.raises(ValueError, match="x/y: A has 2 values, B 3"):
        row("x/y", a=(1.0, 2.0))
    with pytest.raises(ValueError, match="needs a note saying why"):
        Row("x/z", "nothing measured")
    unmeasured = Row("x/z", "the bundled model", note="not in this checkout", machine="m", date="d")
    assert unmeasured.cells()[1] == "not measured: not in this checkout" and unmeasured.cells()[2] == ""


def test_render_and_parse_round_trip_including_pipes():
    rows = [row("a/1"), row("b/1", note="a | b"), Row("c/1", "later", note="no time", machine="m", date="d")]
    table = render(rows)
    assert table.splitlines()[0] == "| " + " | ".join(COLUMNS) + " |"
    assert parse(table) == [r.cells() for r in rows]
    broken = table.replace("| what a/1 |", "| what a/1 | extra |")
    with pytest.raises(ValueError, match="line 3 has 9 cells, not 8"):
        parse(broken)
    with pytest.raises(ValueError, match="not a results table"):
        parse("| a | b |\n|---|---|\n")


def test_merge_replaces_by_key_keeps_other_runs_and_orders_by_benchmark():
    old = [row("first/mid"), row("first/gemma", a=(9.0,), b=(3.0,)), row("proc/h264")]
    new = [row("proc/h264", a=(1.0,), b=(4.0,)), row("first/mid", a=(5.0,), b=(5.0,)), row("first/sweep-256")]
    merged = merge(old, new, ["first", "proc"])
    assert [r.key for r in merged] == ["first/mid", "first/gemma", "first/sweep-256", "proc/h264"]
    assert merged[0].ratios == [1.0] and merged[1].ratios == [3.0] and merged[3].ratios == [0.25]


def test_write_results_copies_the_table_into_the_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\n## Performance\n\n{harness.README_BEGIN}\nold\n{harness.README_END}\n\ntail\n")
    paths = tmp_path / "results.json", tmp_path / "results.md"
    harness.write_results([row("a/1")], ["a", "b"], *paths, readme)
    harness.write_results([row("b/1")], ["a", "b"], *paths, readme)
    table = paths[1].read_text()
    assert [cells[0] for cells in parse(table)] == ["what a/1", "what b/1"]
    assert harness.readme_table(readme.read_text()) == table and readme.read_text().endswith("\n\ntail\n")
    assert [r.key for r in harness.load_rows(paths[0])] == ["a/1", "b/1"]
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="no results table markers"):
        harness.write_results([row("a/1")], ["a"], *paths, readme)
    paths[0].write_text("{}")
    with pytest.raises(ValueError, match="results.json: not a results file"):
        harness.load_rows(paths[0])


def test_peak_memory_sees_an_allocation_of_known_size():
    with PeakMemory("cpu") as peak:
        block = np.ones(100_000_000 // 8)  # 100 MB, written so that it is resident
        del block
    assert 95e6 <= peak.growth <= 200e6


def test_video_llava_is_built_on_the_same_llm_with_the_published_token_count():
    hilight = models.hilight("smoke")
    llava, counted = models.video_llava(hilight)
    assert llava.model.language_model is hilight.model.language_model and llava.lm_head is hilight.lm_head
    with torch.device("meta"):  # a real checkpoint holds a second (image) tower: it is counted
        from transformers import VideoLlavaForConditionalGeneration

        full = VideoLlavaForConditionalGeneration(llava.config)
    assert counted == sum(p.numel() for p in full.parameters())
    assert counted - sum(p.numel() for p in llava.parameters()) == sum(p.numel() for p in llava.model.video_tower.parameters())
    ids, text = models.prompt(hilight)
    llava_ids = models.video_llava_prompt(llava, text)
    vision = llava.config.vision_config
    assert llava_ids.shape[1] - text.shape[1] == 8 * ((vision.image_size // vision.patch_size) ** 2 + 1)
    clock = models.TokenClock()
    with torch.inference_mode():  # the placeholders match the features (else Video-LLaVA raises)
        out = llava.generate(input_ids=llava_ids, pixel_values_videos=torch.randn(1, 8, 3, 32, 32), max_new_tokens=3,
                             min_new_tokens=3, do_sample=False, pad_token_id=0, streamer=clock)  # fmt: skip
    assert out.shape[1] == llava_ids.shape[1] + 3 and len(clock.times) == 3 and clock.per_token() > 0
    published = models.CLIP_VIT_L_14
    assert 8 * ((published["image_size"] // published["patch_size"]) ** 2 + 1) == 2056


def test_llm_sizes_follow_gemma_2bs_shape():
    assert models.text_config("gemma-2b")["hidden_size"] == 2048
    scaled = models.text_config(512)
    assert (scaled["hidden_size"], scaled["intermediate_size"], scaled["head_dim"], scaled["num_hidden_layers"],
            scaled["num_key_value_heads"]) == (512, 4096, 64, 18, 1)  # fmt: skip


def test_the_first_token_plot_is_drawn_from_rows_with_llm_sizes(tmp_path):
    from benchmarks.bench_first_token import plot

    rows = [row("first_token/mid", extra={"llm_parameters": 34e6}), row("first_token/sweep-512", a=(1.0, 1.0, 1.0),
            extra={"llm_parameters": 124e6}), row("proc/h264")]  # fmt: skip
    assert plot(rows, tmp_path / "p.png") and (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert not plot(rows[:1], tmp_path / "q.png") and not (tmp_path / "q.png").exists()


def run_benchmarks(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_smoke_run_of_the_command_writes_a_table_and_leaves_the_readme_alone(tmp_path):
    readme = (ROOT / "README.md").read_text()
    done = run_benchmarks("--smoke", "--only", "proxy_attention,decode_cost", "--results", str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = parse((tmp_path / "results.md").read_text())
    keys = [r["key"] for r in json.loads((tmp_path / "results.json").read_text())["rows"]]
    assert keys == ["proxy_attention/core", "proxy_attention/layer", "decode_cost/mid", "decode_cost/tiny"]
    assert len(rows) == 4 and all(r[1].startswith("**") for r in rows)
    assert (ROOT / "README.md").read_text() == readme
    assert "2 of 2 runs" in done.stdout


def test_the_command_refuses_a_smoke_run_into_the_real_table_and_unknown_names():
    done = run_benchmarks("--smoke", timeout=120)
    assert done.returncode != 0 and "give it a --results folder" in done.stderr
    done = run_benchmarks("--only", "nonsense", timeout=120)
    assert done.returncode != 0 and "unknown benchmark(s) ['nonsense']" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["first_token", "video_llava", "profile", "batch", "memory", "processing"])
def test_smoke_run_of_each_benchmark(tmp_path, name):
    done = run_benchmarks("--smoke", "--full", "--only", name, "--results", str(tmp_path), timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(cells[0] for cells in parse((tmp_path / "results.md").read_text()))


@pytest.mark.slow
def test_batch_and_chat_memory_on_a_checkpoint_folder(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from eval_fixtures import billiards, tiny_checkpoints

    hilight, _ = tiny_checkpoints(tmp_path / "models", billiards(tmp_path / "data", clips=12))
    for module, extra in (("bench_batch", ["--model", str(hilight)]), ("bench_memory", ["--model", str(hilight)])):
        out = tmp_path / f"{module}.json"
        done = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--smoke", "--json", str(out), *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        (result,) = json.loads(out.read_text())
        assert result["a"] and result["b"] and result["ratios"][0] > 0
        if module == "bench_batch":
            assert result["note"].endswith("of 8 batched answers token for token the same as alone")
        else:
            assert result["a"]["values"][0] > result["b"]["values"][0] > 50  # MB: chat holds more than its imports
