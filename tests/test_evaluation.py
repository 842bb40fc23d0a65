"""`hilight eval`: QA with its blind and majority baselines, retrieval and grounding, each checked
against a computation written here from the model's plain forward and the data's ground truth."""

import json
import subprocess
import sys
from collections import Counter

import pytest
import torch
from eval_fixtures import billiards, tiny_checkpoints

from modeling_hilight.answer_matching import match_answer
from modeling_hilight.bundled import load_model
from modeling_hilight.evaluation import (
    ball_patches, ball_words, derangement, encoder_for, evaluate, evaluate_grounding, evaluate_qa, evaluate_retrieval,
    recall_at, summarise_qa,
)  # fmt: skip
from modeling_hilight.training.billiards import load_billiards
from modeling_hilight.training.billiards.text import answer_fact


NEW_TOKENS = 8  # an untrained model talks until the limit


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = billiards(root / "data", clips=40)
    hilight, encoder = tiny_checkpoints(root, data)
    return {"data": data, "hilight": hilight, "encoder": encoder, "root": root}


@pytest.fixture(scope="module")
def qa_result(world):
    model, processor = load_model(world["hilight"])
    return evaluate_qa(model, processor, load_billiards(world["data"]), batch_size=3, max_new_tokens=NEW_TOKENS)


def generate_one(model, processor, messages):
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    video = next(b["path"] for m in messages for b in m["content"] if b.get("type") == "video")
    inputs = processor(text=prompt, videos=[video])
    inputs.pop("video_metadata", None)
    stops = [processor.tokenizer.eos_token_id, processor.tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=stops,
                             pad_token_id=0, suppress_tokens=[processor.video_token_id])
    return processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()


def test_qa_scores_every_test_question_against_the_ground_truth(world, qa_result):
    data = load_billiards(world["data"])
    test, train = data["test"], data["train"]
    records = qa_result["records"]
    assert len(records) == qa_result["questions"] == sum(len(r["questions"]) for r in test)
    assert [r["question"] for r in records] == [q["question"] for row in test for q in row["questions"]]
    for r in records:
        fact = answer_fact(r["type"], r["truth"])
        assert r["correct"] == match_answer(r["type"], r["answer"], fact)
        assert r["blind_correct"] == match_answer(r["type"], r["blind_answer"], fact)
    assert qa_result["accuracy"] == pytest.approx(sum(r["correct"] for r in records) / len(records), abs=1e-4)
    blind = sum(r["blind_correct"] for r in records) / len(records)
    assert qa_result["blind_accuracy"] == pytest.approx(blind, abs=1e-4)
    assert qa_result["gap"] == pytest.approx(qa_result["accuracy"] - qa_result["blind_accuracy"], abs=1e-4)
    # blind: every question of a clip sees one other test clip, and no clip sees itself
    other = {r["id"]: r["blind_video"] for r in records}
    assert all(a != b for a, b in other.items()) and len(set(other.values())) == len(other)
    # majority: the train split's most common short answer per type, counted here
    counts = {}
    for row in train:
        for q in row["questions"]:
            counts.setdefault(q["type"], Counter())[answer_fact(q["type"], q["answer"])] += 1
    expected = [counts[r["type"]].most_common(1)[0][0] == answer_fact(r["type"], r["truth"]) for r in records]
    assert qa_result["majority_accuracy"] == pytest.approx(sum(expected) / len(expected), abs=1e-4)
    for kind, row in qa_result["per_type"].items():
        mine = [r for r in records if r["type"] == kind]
        assert row["questions"] == len(mine)
        assert row["accuracy"] == pytest.approx(sum(r["correct"] for r in mine) / len(mine), abs=1e-4)


def test_batched_answers_equal_answers_asked_one_at_a_time(world, qa_result):
    """Left-padded batches, histories and the blind swap give what a single generate call gives."""
    model, processor = load_model(world["hilight"])
    test = load_billiards(world["data"], "test")
    by_id = {row["id"]: row for row in test}
    multi = [r for r in qa_result["records"] if r["question"] != by_id[r["id"]]["questions"][0]["question"]]
    assert multi  # a later turn, asked with the earlier turns and their reference answers
    for r in qa_result["records"][:2] + multi[:1]:
        row = by_id[r["id"]]
        turn = [q["question"] for q in row["questions"]].index(r["question"])
        messages = row["messages"][: 2 * turn + 1]
        assert generate_one(model, processor, messages) == r["answer"]
        blind_video = by_id[r["blind_video"]]["video"]
        swapped = [{**m, "content": [{**b, "path": blind_video} if b.get("type") == "video" else b
                                     for b in m["content"]]} for m in messages]  # fmt: skip
        assert generate_one(model, processor, swapped) == r["blind_answer"]


def test_summary_by_hand():
    records = [
        {"type": "touched", "correct": True, "blind_correct": False, "majority_correct": True, "answer": "yes",
         "blind_answer": "no", "parsed": True},
        {"type": "touched", "correct": True, "blind_correct": True, "majority_correct": False, "answer": "no",
         "blind_answer": "no", "parsed": False},
        {"type": "first_hit", "correct": False, "blind_correct": False, "majority_correct": False, "answer": "?",
         "blind_answer": "the red 3", "parsed": None},
        {"type": "first_hit", "correct": True, "blind_correct": False, "majority_correct": True, "answer": "the red 3",
         "blind_answer": "the blue 2", "parsed": [3]},
    ]  # fmt: skip
    summary = summarise_qa(records, {"touched": True, "first_hit": (3,)})
    assert (summary["accuracy"], summary["blind_accuracy"], summary["gap"]) == (0.75, 0.25, 0.5)
    assert summary["majority_accuracy"] == 0.5 and summary["unparsed"] == 1
    assert summary["answers_changed_by_video"] == 0.75
    assert summary["per_type"]["touched"] == {"questions": 2, "accuracy": 1.0, "blind_accuracy": 0.5, "gap": 0.5,
                                              "answers_changed_by_video": 0.5, "majority_accuracy": 0.5,
                                              "unparsed": 0, "majority_answer": "yes"}  # fmt: skip
    assert summary["per_type"]["first_hit"]["majority_answer"] == "the red 3"


def test_derangement():
    for n in (2, 3, 10, 101):
        d = derangement(n)
        assert sorted(d) == list(range(n)) and all(d[i] != i for i in range(n))
        assert d == derangement(n)
    assert derangement(50, seed=1) != derangement(50, seed=2)
    with pytest.raises(ValueError, match="at least 2 clips"):
        derangement(1)


def test_recall_by_hand():
    similarity = torch.tensor([[0.9, 0.1, 0.0], [0.5, 0.2, 0.8], [0.0, 0.0, 0.3]])
    # row 0: right is best (rank 0); row 1: two better (rank 2); row 2: best (rank 0)
    assert recall_at(similarity, ks=(1, 2, 3)) == {"R@1": round(2 / 3, 4), "R@2": round(2 / 3, 4), "R@3": 1.0}


def test_retrieval_equals_the_models_own_logits(world):
    model, processor = load_model(world["encoder"])
    data = load_billiards(world["data"])
    result = evaluate_retrieval(model, processor, data, pool=3, batch_size=2)
    test = data["test"]
    pixels = processor.video_processor(list(test["video"][:3]))["pixel_values_videos"]
    tok = processor.tokenizer
    tokens = tok([f"{tok.bos_token} {c} {tok.eos_token}" for c in test["caption"][:3]], add_special_tokens=False,
                 padding=True, return_tensors="pt")  # fmt: skip
    with torch.no_grad():
        logits = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                       pixel_values_videos=pixels).logits_per_text  # fmt: skip
    for name, sim in (("text_to_video", logits), ("video_to_text", logits.T)):
        order = sim.argsort(dim=1, descending=True)
        rank = [int((order[i] == i).nonzero()) for i in range(3)]
        assert result[name]["R@1"] == pytest.approx(sum(r < 1 for r in rank) / 3, abs=1e-4)
        assert result[name]["R@5"] == 1.0
    assert result["pool"] == 3 and result["chance"] == {"R@1": 0.3333, "R@5": 1.0}


def test_ball_words_of_a_caption():
    caption = "The cue ball sends the striped maroon 15 into the top-left pocket, and the red 3 drops in."
    words = [(caption.lower()[s:e], ball, kind) for s, e, ball, kind in ball_words(caption)]
    assert words == [("cue", 0, "cue"), ("maroon", 15, "colour"), ("15", 15, "number"), ("red", 3, "colour"),
                     ("3", 3, "number")]  # fmt: skip


def test_ball_patches_against_point_sampling():
    """Sandwich: every patch with a sample point inside the ball is found, and every patch found has
    one inside the ball grown by a hair (the sampling grid is finite)."""
    generator = torch.Generator().manual_seed(0)
    width, height, size, patch = 64, 32, 32, 8
    fine = (torch.arange(48) + 0.5) / 48 * patch

    def sampled(x, y, radius):
        grid = torch.zeros(size // patch, size // patch, dtype=torch.bool)
        for i in range(size // patch):
            for j in range(size // patch):
                px, py = (j * patch + fine) * width / size, (i * patch + fine) * height / size
                grid[i, j] = bool(((px[None, :] - x) ** 2 + (py[:, None] - y) ** 2 <= radius**2).any())
        return grid

    for _ in range(100):
        x, y = float(torch.rand(1, generator=generator)) * width, float(torch.rand(1, generator=generator)) * height
        radius = 0.5 + 3 * float(torch.rand(1, generator=generator))
        got = ball_patches(x, y, radius, width, height, size, patch)
        assert not (sampled(x, y, radius) & ~got).any()
        assert not (got & ~sampled(x, y, radius + 0.2)).any()
    # by hand: a ball of radius 1 at (16, 16) of a 64x32 frame sits on the corner of 4 patches of a 32 px input
    assert ball_patches(16.0, 16.0, 1.0, 64, 32, 32, 8).nonzero().tolist() == [[1, 0], [1, 1], [2, 0], [2, 1]]


def test_grounding_equals_the_local_tokens_of_the_models_forward(world):
    model, processor = load_model(world["encoder"])
    data = load_billiards(world["data"])
    result = evaluate_grounding(model, processor, data, max_clips=3, batch_size=2)
    tok, vision = processor.tokenizer, model.config.vision_config
    hits, chance, anywhere = [], [], []
    for row in data["test"].select(range(3)):
        decoded = processor.video_processor(row["video"])
        text = f"{tok.bos_token} {row['caption']} {tok.eos_token}"
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, return_tensors="pt")
        with torch.no_grad():
            out = model(input_ids=enc["input_ids"], pixel_values_videos=decoded["pixel_values_videos"],
                        return_loss=True, language_mask=torch.ones_like(enc["input_ids"], dtype=torch.bool))  # fmt: skip
        words = torch.nn.functional.normalize(out.local_text_tokens[0], dim=-1)
        patches = torch.nn.functional.normalize(out.local_video_tokens[0], dim=-1).view(4, vision.num_patches_per_frame, -1)
        positions = json.loads(row["ball_positions"])
        lowered, offset = row["caption"].lower(), len(tok.bos_token) + 1
        starts = [int(s) for s, _ in enc["offset_mapping"][0]]
        for colour_word in ("red", "blue", "yellow", "purple", "orange", "green", "maroon", "black"):
            for at in [i for i in range(len(lowered)) if lowered.startswith(colour_word + " ", i)]:
                number_at = at + len(colour_word) + 1
                number = int(lowered[number_at:].split()[0].strip(".,"))
                for char in (at, number_at):  # the colour word, then the number
                    token = starts.index(offset + char)
                    for t, source in enumerate(decoded["video_metadata"][0]["frames_indices"]):
                        ball = next((b for b in positions[source] if b["ball"] == number), None)
                        if ball is None:
                            continue
                        peak = int((patches[t] @ words[token]).argmax())
                        grid = ball_patches(ball["x"], ball["y"], ball["radius"], row["width"], row["height"], 32, 8)
                        hits.append(bool(grid.flatten()[peak]))
                        chance.append(float(grid.float().mean()))
                        union = sum(ball_patches(b["x"], b["y"], b["radius"], row["width"], row["height"], 32, 8).int()
                                    for b in positions[source])  # fmt: skip
                        anywhere.append(bool(union.flatten()[peak]))
    assert result["pairs"] == len(hits) > 0
    assert result["hit_rate"] == pytest.approx(sum(hits) / len(hits), abs=1e-4)
    assert result["chance_rate"] == pytest.approx(sum(chance) / len(chance), abs=1e-4)
    assert result["any_ball_rate"] == pytest.approx(sum(anywhere) / len(anywhere), abs=1e-4)
    assert result["by_kind"]["colour"]["pairs"] == result["by_kind"]["number"]["pairs"] == len(hits) // 2


def test_a_hilight_tower_that_differs_is_loaded_into_the_encoder(world, tmp_path):
    model, _ = load_model(world["hilight"])
    same, _, notes = encoder_for(model, world["encoder"])
    assert "equals the HiLight's" in notes[0]
    with torch.no_grad():
        for p in model.model.clip_vip.parameters():
            p.add_(0.5)
    swapped, _, notes = encoder_for(model, world["encoder"])
    assert "was loaded into" in notes[0] and "(strictly)" in notes[0]
    for name, value in model.model.clip_vip.state_dict().items():
        assert torch.equal(swapped.vision_model.state_dict()[name], value)
    assert torch.equal(swapped.text_model.embeddings.token_embedding.weight, same.text_model.embeddings.token_embedding.weight)
    with pytest.raises(ValueError, match="must be a CLIP-ViP\\+ checkpoint"):
        encoder_for(model, world["hilight"])


def test_evaluate_writes_json_and_markdown_with_the_gap_first(world, tmp_path):
    results = evaluate(str(world["hilight"]), str(world["data"]), encoder=str(world["encoder"]), max_questions=5,
                       pool=4, out=str(tmp_path / "report"))  # fmt: skip
    saved = json.loads((tmp_path / "report" / "eval.json").read_text())
    assert saved["qa"]["questions"] == 5 == len(saved["qa"]["records"])
    assert saved["qa"]["accuracy"] == results["qa"]["accuracy"] and saved["retrieval"]["pool"] == 4
    assert saved["grounding"]["clips"] == 4
    markdown = (tmp_path / "report" / "eval.md").read_text()
    first = next(line for line in markdown.splitlines() if line.startswith("**"))
    assert first.startswith("**Gap") and f"{100 * results['qa']['gap']:+.1f} points" in first
    assert "| text to video |" in markdown and "| colour |" in markdown


def test_eval_command_end_to_end(world, tmp_path):
    command = [sys.executable, "-m", "modeling_hilight.cli", "eval", "--model", str(world["encoder"]), "--data",
               str(world["data"]), "--out", str(tmp_path / "e"), "--no-progress", "--pool", "3"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert "qa" not in saved and saved["retrieval"]["pool"] == 3 and "R@1" in result.stdout


def test_eval_errors_are_one_line(world, tmp_path, capsys):
    from modeling_hilight.cli import main

    nowhere = tmp_path / "nowhere"
    assert main(["eval", "--model", str(world["encoder"]), "--data", str(nowhere), "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"hilight eval: {nowhere}: not a billiards data set (no dataset_dict.json); make one with "
        f"`hilight data --out {nowhere} --num-clips N`."
    ]
    assert main(["eval", "--model", str(nowhere), "--data", str(world["data"]), "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines() == [f"hilight eval: {nowhere}: no such model folder."]
    with pytest.raises(FileNotFoundError):  # --debug: the exception itself
        main(["eval", "--model", str(world["encoder"]), "--data", str(nowhere), "--debug"])


def test_answers_never_contain_the_video_placeholder(world):
    """A model that would most like to emit <video> (forced here through its LM head) still answers
    in text; emitting it would make the next step look like a prompt without its video."""
    from modeling_hilight.evaluation import generate_answers

    model, processor = load_model(world["hilight"])
    video_id = processor.video_token_id

    def favour_video(module, args, out):
        out = out.clone()
        out[..., video_id] += 1e4
        return out

    model.lm_head.register_forward_hook(favour_video)
    row = load_billiards(world["data"], "test")[0]
    (answer,) = generate_answers(model, processor, [row["messages"][:1]], max_new_tokens=4)
    assert answer and "<video>" not in answer
