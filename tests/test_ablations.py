"""The ablation table (benchmarks/ablations): the verdict rule and its statements, the studies' shared runs,
the recipe fields it added (blank_tower, language_mask_policy, reference token mining on the encoder's
Long-CLIP), and the command itself at the smoke size, as the README writes it."""

import json
import shlex
import statistics
import sys
from pathlib import Path

import pytest
import torch
from hilight_fixtures import frames, tiny_model
from readme_snippets import code_blocks

from modeling_hilight import CLIPViPPlusConfig, CLIPViPPlusModel
from modeling_hilight.configuration_clip_vip_plus import DEFAULT_STOPWORDS
from modeling_hilight.processing import HiLightProcessor, HiLightVideoProcessor, build_hilight_tokenizer
from modeling_hilight.training.train import HiLightRecipe, blank_tower, encoder_model, hilight_model

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from benchmarks.ablations import report, studies  # noqa: E402
from benchmarks.ablations.__main__ import main as ablations_main  # noqa: E402
from benchmarks.ablations.__main__ import parse_args  # noqa: E402
from benchmarks.ablations.runner import Context, run_key, stage_overrides  # noqa: E402

# -- the verdict rule and the statements ------------------------------------------------------------


def test_spread_and_compare_count_a_difference_only_outside_the_seed_ranges():
    high, low, overlapping = report.spread([0.5, 0.7, 0.6]), report.spread([0.2, 0.4, 0.3]), report.spread([0.2, 0.55, 0.3])
    assert high["mean"] == pytest.approx(0.6) and high["sd"] == pytest.approx(statistics.stdev([0.5, 0.7, 0.6]))
    assert (high["min"], high["max"], high["n"]) == (0.5, 0.7, 3)
    assert report.spread([None, 0.25, float("nan")]) == {"mean": 0.25, "sd": 0.0, "min": 0.25, "max": 0.25, "n": 1,
                                                         "values": [0.25]}  # fmt: skip
    assert report.spread([None]) is None
    assert report.compare(high, low) == report.BETTER and report.compare(low, high) == report.WORSE
    assert report.compare(high, low, higher_is_better=False) == report.WORSE  # a loss: lower is better
    # 0.6 against 0.35 on average, but one seed of the second (0.55) beats one of the first (0.5): no win
    assert report.compare(high, overlapping) == report.SAME
    one, other = report.spread([0.9]), report.spread([0.1])
    assert report.compare(one, other) == report.NO_SPREAD and report.compare(one, report.spread([0.9])) == report.SAME
    assert report.compare(high, None) == report.MISSING


def summary_of(**rows):
    return {label: {"hit_rate": report.spread(values)} for label, values in rows.items()}


def test_paper_claims_agree_disagree_or_show_no_difference():
    claim = studies.Claim("paper", "A beats B and C", "hit_rate", "A", ("B", "C"))
    agrees = report.claim_statement(claim, summary_of(A=[0.5, 0.6, 0.7], B=[0.1, 0.2, 0.3], C=[0.3, 0.4, 0.45]))
    assert agrees == ("**Paper: A beats B and C.** Agrees with the paper (hit_rate): A against B: 60.0 against 20.0, "
                      "agrees with the paper; A against C: 60.0 against 38.3, agrees with the paper.")  # fmt: skip
    partly = report.claim_statement(claim, summary_of(A=[0.5, 0.6, 0.7], B=[0.1, 0.2, 0.3], C=[0.3, 0.55, 0.45]))
    assert partly.startswith("**Paper: A beats B and C.** No difference within the seed spread (hit_rate):")
    assert partly.endswith("A against C: 60.0 against 43.3, no difference within the seed spread.")
    disagrees = report.claim_statement(claim, summary_of(A=[0.1, 0.2, 0.15], B=[0.1, 0.2, 0.3], C=[0.3, 0.4, 0.45]))
    assert "Disagrees with the paper" in disagrees and "A against C: 15.0 against 38.3, disagrees with the paper" in disagrees
    single = report.claim_statement(claim, summary_of(A=[0.9], B=[0.1], C=[0.2]))
    assert "No verdict (one seed)" in single and "agrees" not in single


def test_our_comparisons_say_higher_or_lower_never_agree():
    loss = studies.Claim("ours", "X against Y", "align_loss", "X", ("Y",), higher_is_better=False)
    summary = {"X": {"align_loss": report.spread([1.2, 1.3])}, "Y": {"align_loss": report.spread([1.6, 1.7])}}
    assert report.claim_statement(loss, summary) == (
        "**Ours: X against Y.** (align_loss): X against Y: 1.250 against 1.650, X is lower beyond the seed spread.")
    summary["Y"] = {"align_loss": report.spread([1.25, 1.7])}
    assert report.claim_statement(loss, summary).endswith("1.250 against 1.475, no difference within the seed spread.")


def test_table_cells_give_the_mean_and_the_range():
    assert report.cell("hit_rate", report.spread([0.25, 0.5])) == "37.5 (25.0–50.0)"
    assert report.cell("align_loss", report.spread([1.5])) == "1.500"
    assert report.cell("qa_gap", report.spread([0.1, -0.02])) == "+4.0 (-2.0–+10.0)"
    assert report.cell("vision_tokens", report.spread([128, 128])) == "128"


# -- the studies -------------------------------------------------------------------------------------


def test_every_claim_names_rows_of_its_study_and_chat_studies_train_the_chat_stages():
    for study in studies.STUDIES.values():
        labels = [row.label for row in study.rows]
        assert len(set(labels)) == len(labels), study.name
        for claim in study.claims:
            assert {claim.best, *claim.against} <= set(labels), (study.name, claim.text)
        chat = study.name in ("token_mining", "towers", "queries")
        assert all(row.chat == chat for row in study.rows), study.name
    assert [s.name for s in studies.select(["towers", "placement", "towers"])] == ["towers", "placement"]
    with pytest.raises(ValueError, match="--studies: unknown nope; choose from placement, "):
        studies.select(["nope"])


def key_of(row, stage="encoder", parent=None):
    ctx = Context(Path("/x"), studies.BUDGETS["small"], Path("/x/data"), [0.1, 0.2, 0.3], [0.2, 0.2, 0.2], None)
    changes = row.encoder if stage == "encoder" else {**row.align, **({"blank_tower": row.blank_tower} if
                                                                       row.blank_tower != "none" else {})}  # fmt: skip
    return run_key(stage, stage_overrides(stage, ctx, 0, changes), parent, ctx.budget)


def test_the_same_configuration_in_two_studies_is_one_run():
    rows = {(s.name, r.label): r for s in studies.STUDIES.values() for r in s.rows}
    setting2 = key_of(rows[("placement", studies.SETTING2)])
    assert key_of(rows[("language_mask", "language mask on (setting 2)")]) == setting2
    assert key_of(rows[("patch_scope", "patch_scope frame")]) == setting2
    assert key_of(rows[("placement", "pre_projection + grounding loss (ours)")]) == key_of(studies.Row("x", studies.CHAT_ENCODER))
    both = key_of(rows[("towers", "both towers")], "align", "enc")
    assert key_of(rows[("queries", "16 queries per frame")], "align", "enc") == both
    assert key_of(rows[("towers", "Long-CLIP alone")], "align", "enc") != both
    assert key_of(rows[("towers", "both towers")], "align", "another encoder") != both
    placement = [key_of(r) for (study, _), r in rows.items() if study == "placement"]
    assert len(set(placement)) == len(placement)


def test_command_line_errors_name_the_argument(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--seeds", "0"])
    assert "--seeds must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--budget", "huge"])
    assert "argument --budget: invalid choice: 'huge'" in capsys.readouterr().err


# -- the recipe fields the table needs ----------------------------------------------------------------


def test_blank_tower_gives_that_tower_zeros_and_leaves_the_other_alone():
    videos = [frames(1, 12, seed=1), frames(1, 12, seed=2)]
    for tower in ("clip_vip", "long_clip"):
        model = tiny_model()
        plain = [model.get_video_features(v) for v in videos]
        (handle,) = blank_tower(model, tower)
        blanked = [model.get_video_features(v) for v in videos]
        handle.remove()
        zeros = torch.zeros_like(videos[0])
        for out, before in zip(blanked, plain):
            if tower == "clip_vip":  # the same tokens for every clip: those of zero pixels; Long-CLIP as before
                torch.testing.assert_close(out.last_hidden_state, model.model.clip_vip(zeros).last_hidden_state)
                torch.testing.assert_close(out.keyframe_embeds, before.keyframe_embeds)
            else:
                keyframes = model.model.long_clip(pixel_values=zeros[0]).image_embeds
                torch.testing.assert_close(out.keyframe_embeds[0], keyframes)
                torch.testing.assert_close(out.last_hidden_state, before.last_hidden_state)
            # the vision tokens are token mining's on what the towers gave, not the plain model's
            torch.testing.assert_close(out.pooler_output, model.model.token_mining(out.last_hidden_state, out.keyframe_embeds))
            assert not torch.allclose(out.pooler_output, before.pooler_output)
    model = tiny_model()
    assert len(blank_tower(model, "both")) == 2  # a blind model: every video gives the same vision tokens
    torch.testing.assert_close(*(model.get_video_features(v).pooler_output for v in videos))
    with pytest.raises(ValueError, match=r"blank_tower must be one of \('none', 'clip_vip', 'long_clip', 'both'\), got 'all'"):
        blank_tower(tiny_model(), "all")
    assert blank_tower(tiny_model(), "none") == []


def chat_processor():
    tokenizer = build_hilight_tokenizer(["which ball went into a pocket ?", "the red 3 ."])
    return HiLightProcessor(HiLightVideoProcessor(size=32, num_frames=4), tokenizer, queries_per_frame=4)


def small_encoder(folder: Path, projection: int = 24) -> Path:
    torch.manual_seed(0)
    config = CLIPViPPlusConfig(
        text_config=dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8, temporal_size=4),
        projection_dim=projection,
    )  # fmt: skip
    CLIPViPPlusModel(config).save_pretrained(folder)
    return folder


def test_reference_token_mining_takes_the_width_of_a_long_clip_started_from_the_encoder(tmp_path):
    encoder = small_encoder(tmp_path / "encoder", projection=24)
    recipe = HiLightRecipe(data="unused", clip_vip_path=str(encoder), long_clip_from_clip_vip=True, num_frames=4,
                           token_mining_variant="reference", queries_per_frame=4)  # fmt: skip
    model = hilight_model(recipe, chat_processor(), "align")
    assert model.config.long_clip_config.projection_dim == 24 and model.config.token_mining_hidden_size == 24
    out = model.get_video_features(frames(2, 4))
    assert out.pooler_output.shape == (2, 16, recipe.llm_width)
    recipe.blank_tower = "clip_vip"  # the recipe field installs the hook
    blanked = hilight_model(recipe, chat_processor(), "align").get_video_features(frames(2, 4))
    torch.testing.assert_close(blanked.last_hidden_state[0], blanked.last_hidden_state[1])


def test_language_model_from_starts_a_new_models_llm_from_a_checkpoint(tmp_path):
    processor = chat_processor()
    base = HiLightRecipe(data="unused", num_frames=4, queries_per_frame=4, token_mining_variant="improved")
    source = hilight_model(base, processor, "align")
    source.save_pretrained(tmp_path / "lm")
    recipe = HiLightRecipe(data="unused", num_frames=4, token_mining_variant="structure2",
                           language_model_from=str(tmp_path / "lm"))  # fmt: skip
    torch.manual_seed(1)
    model = hilight_model(recipe, processor, "align")
    theirs = source.state_dict()
    for name, value in model.state_dict().items():
        if name.startswith(("model.language_model.", "lm_head.")):
            torch.testing.assert_close(value, theirs[name], msg=name)
    assert type(model.model.token_mining).__name__ == "Structure2TokenMining"
    assert not any(p.requires_grad for p in model.model.language_model.parameters())  # align freezes it
    recipe.model = str(tmp_path / "lm")
    with pytest.raises(ValueError, match="language_model_from starts a new model's LLM, but model is '.*lm'"):
        hilight_model(recipe, processor, "align")


def test_language_mask_policy_of_the_recipe_reaches_the_encoder():
    tokenizer = build_hilight_tokenizer(["the red ball goes into the pocket"])
    processor = type("P", (), {"tokenizer": tokenizer})()
    ids = tokenizer(["the red ball goes into the pocket"], return_tensors="pt")
    kept = {}
    for policy in (None, "special_tokens"):
        model = encoder_model(HiLightRecipe(data="unused", language_mask_policy=policy, vision_layers=1), processor)
        mask = model.language_mask(ids["input_ids"], ids["attention_mask"])[0]
        kept[policy] = [t for t, m in zip(tokenizer.convert_ids_to_tokens(ids["input_ids"][0]), mask) if m]
    words = ["the", "red", "ball", "goes", "into", "the", "pocket"]
    assert kept["special_tokens"] == words  # only <bos>/<eos> leave the local loss
    assert kept[None] == [w for w in words if w not in DEFAULT_STOPWORDS] == ["red", "ball", "goes", "pocket"]


# -- the command, at the smoke size, as the README writes it -----------------------------------------------


def readme_commands() -> list[str]:
    (block,) = code_blocks("### The ablation table", "bash")
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_commands_parse():
    lines = readme_commands()
    assert len(lines) == 3 and all(line.startswith("python -m benchmarks.ablations") for line in lines)
    budgets = [parse_args(shlex.split(line)[3:]).budget for line in lines]
    assert budgets == ["smoke", "small", "full"]


def test_the_full_budget_command_parses_and_its_table_is_the_committed_one():
    """The README's full-budget line (about 70 min, not run here) names the runs in docs/ablations-full."""
    (block,) = code_blocks("### The table at the full budget (2026-11-30)", "bash")
    (line,) = [x for x in block.splitlines() if x.strip()]
    args = parse_args(shlex.split(line)[3:])
    assert args.budget == "full" and args.seeds == 3
    assert [s.name for s in args.selected] == list(studies.STUDIES)
    committed = json.loads((Path(__file__).resolve().parents[1] / "docs" / "ablations-full" / "ablations.json").read_text())
    assert committed["command"] == line and committed["studies"] == [s.name for s in args.selected]
    # 7 encoder configurations x 3 seeds; one blind language model; align + instruct for each seed of the
    # 4 + 3 + 4 chat rows, of which "both towers" and "16 queries per frame" are one configuration
    assert committed["seeds"] == [0, 1, 2] and len(committed["runs"]) == 21 + 1 + 2 * 3 * (4 + 3 + 4 - 1)


@pytest.mark.timeout(180)
def test_smoke_run_writes_the_table_the_json_and_the_pictures(tmp_path, monkeypatch, capsys):
    """The README's smoke line, through the command's entry point (as `hilight ...` lines are tested)."""
    (line,) = [line for line in readme_commands() if "--budget smoke" in line]
    argv = shlex.split(line)[3:]
    monkeypatch.chdir(tmp_path)
    assert ablations_main(argv) == 0
    printed = capsys.readouterr().out
    out = tmp_path / parse_args(argv).out
    table = (out / "ablations.md").read_text()
    result = json.loads((out / "ablations.json").read_text())
    assert f"- Command: `python -m benchmarks.ablations {shlex.join(argv)}`" in table
    assert f"- Date: {result['date']}; {len(result['runs'])} stage runs, " in table and "- Budget smoke: 20 clips" in table
    assert "(0 of them finished by an earlier invocation in this folder)" in table and "- Seeds: 0 " in table
    assert result["studies"] == ["language_mask", "towers"] and result["seeds"] == [0]
    # every stage run: the two encoder rows, the bundled encoder, the blind language model (an align run),
    # and align + instruct per tower row
    stages = sorted(run["stage"] for run in result["runs"])
    assert stages == ["align"] * 4 + ["encoder"] * 3 + ["instruct"] * 3
    for study, column, place in (("language_mask", "hit_rate", 4), ("towers", "qa_accuracy", 0)):
        for row in studies.STUDIES[study].rows:
            value = result["results"][study][row.label]["0"]["metrics"][column]
            assert result["summary"][study][row.label][column]["mean"] == pytest.approx(value)
            (cells,) = [x for x in table.splitlines() if x.startswith(f"| {row.label} | ")]
            assert cells.split(" | ")[1 + place] == report.fmt(column, value)
        assert (out / f"{study}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"![{studies.STUDIES[study].title}]({study}.png)" in table
    assert "**Paper: two towers beat either one alone.**" in table
    assert printed.count(" s training") == 10 and printed.count("blind language model · seed 0") == 1
    # again: every stage run is found in runs/ and reused, and the summary is the same
    assert ablations_main(argv) == 0
    assert " s training" not in capsys.readouterr().out
    assert json.loads((out / "ablations.json").read_text())["summary"] == result["summary"]


def test_per_type_statement_sorts_the_question_types_by_the_verdict():
    summary = {"A": {"qa.touched": report.spread([0.8, 0.9]), "qa.farthest": report.spread([0.1, 0.2]),
                     "qa.first_hit": report.spread([0.3, 0.5])},
               "B": {"qa.touched": report.spread([0.4, 0.5]), "qa.farthest": report.spread([0.5, 0.6]),
                     "qa.first_hit": report.spread([0.4, 0.6])}}  # fmt: skip
    assert report.per_type_statement("A", "B", summary) == (
        "**Per question type, A against B (QA accuracy):** A higher beyond the seed spread: touched; "
        "B higher beyond the seed spread: farthest; no difference within the seed spread: first_hit.")
    one = {k: {m: report.spread(s["values"][:1]) for m, s in v.items()} for k, v in summary.items()}
    assert report.per_type_statement("A", "B", one).endswith("one seed, no spread: no verdict.")


def test_bars_take_a_mean_that_rounding_put_outside_its_range(tmp_path):
    from benchmarks.ablations.report import bars

    values = [0.1, 0.1, 0.1]
    mean = sum(values) / len(values)
    assert mean > max(values)  # 0.10000000000000002: the case that made matplotlib refuse the error bars
    path = bars(tmp_path / "equal.png", ["a", "b"], {"hit rate": [{"mean": mean, "min": 0.1, "max": 0.1}, None]},
                "hit rate (%)", "equal seeds")  # fmt: skip
    assert path.stat().st_size > 1000
