"""`hilight demo` (the README's main job) runs end to end at a smaller size."""

from modeling_hilight.cli import main


def test_demo_trains_three_stages_and_answers(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--clips", "6", "--steps", "3"]) == 0
    out = capsys.readouterr().out
    for stage in ("encoder", "align", "instruct"):
        assert f"2/3 {stage}" in out and (tmp_path / "demo" / stage / "loss_curve.png").exists()
    assert "3/3 the merged model (HiLightForConditionalGeneration" in out
    assert out.count("    Q: ") == 1 and "truth:" in out  # one test clip at this size
    assert (tmp_path / "demo" / "instruct" / "merged" / "model.safetensors").exists()
