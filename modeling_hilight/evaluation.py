"""`hilight eval --model M --data D [--out DIR] [--max-questions N] [--encoder E]`: how good is a model.

On the test split of a billiards data set (`hilight data` output):

* **QA.** Every asked question, with the earlier turns of its conversation and their reference
  answers before it, is answered greedily; the answer is scored on its fact (answer_matching.py)
  against the data's ground truth (`text.answer_fact` of the short answer). Beside it, in the
  same run: the **blind** baseline (the same model and questions, with the video of another test
  clip: a fixed derangement of the test clips) and the **majority** baseline (per question type,
  the train split's most common fact). The gap, accuracy minus blind, is the number that says
  whether the model uses the video.
* **Retrieval** (a CLIP-ViP+): text-to-video and video-to-text R@1 and R@5 on a pool of test
  clips and their captions.
* **Grounding** (a CLIP-ViP+): for each caption word naming a ball (its colour or its number),
  in each frame, does the word-to-patch similarity of the model's local (SPARC) features peak on
  a patch that covers that ball's true position? Chance is the share of patches covering it.

For a HiLight checkpoint, retrieval and grounding need a CLIP-ViP+ with its text tower
(`--encoder E`); when E's video tower differs from the HiLight's `model.clip_vip`, the HiLight's
tower weights are loaded into E (strictly) and the report says so.

Python API (each returns plain dicts): `evaluate_qa(model, processor, dataset)`,
`evaluate_retrieval(clip_model, processor, dataset)`, `evaluate_grounding(clip_model, processor,
dataset)`, and `evaluate(model, data, ...)`, which is the whole command; `write_report(results, out)`.
`dataset` is a `load_billiards(folder)` DatasetDict (its "test" split is evaluated; "train" gives
the majority baseline) or one split.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .answer_matching import match_answer
from .training.billiards.physics import BALL_COLOURS
from .training.billiards.text import QUESTION_TYPES, answer_fact

logger = logging.getLogger(__name__)


# -- data -----------------------------------------------------------------------------------------


def split_test_train(dataset):
    """(test split, train split or None) of a DatasetDict, or (dataset, None) for one split."""
    if isinstance(dataset, dict):  # a DatasetDict
        if "test" not in dataset:
            raise ValueError(f"the data set has no 'test' split (it has {sorted(dataset)}).")
        return dataset["test"], dataset["train"] if "train" in dataset else None
    return dataset, None


@dataclass
class Question:
    clip: int  # row of the test split
    id: str
    type: str
    question: str
    answer: str  # the short answer (ground truth)
    fact: Any
    messages: list[dict]  # the conversation up to this question, earlier turns with their reference answers


def questions_of(test, max_questions: int | None = None) -> list[Question]:
    """Every asked question of the split, in order; at most `max_questions`."""
    out = []
    for clip, row in enumerate(test):
        users = [i for i, m in enumerate(row["messages"]) if m["role"] == "user"]
        if len(users) != len(row["questions"]):
            raise ValueError(f"row {row['id']}: {len(users)} user turns but {len(row['questions'])} questions.")
        for turn, qa in zip(users, row["questions"]):
            out.append(Question(clip, row["id"], qa["type"], qa["question"], qa["answer"],
                                answer_fact(qa["type"], qa["answer"]), row["messages"][: turn + 1]))  # fmt: skip
            if max_questions is not None and len(out) >= max_questions:
                return out
    return out


def derangement(n: int, seed: int = 0) -> list[int]:
    """A fixed permutation of range(n) with no fixed point (one cycle through a seeded shuffle)."""
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 clips, got {n}.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    out = [0] * n
    for i in range(n):
        out[order[i]] = order[(i + 1) % n]
    return out


def majority_facts(train) -> dict[str, Any]:
    """Per question type, the most common fact among the split's asked questions."""
    counts: dict[str, Counter] = {}
    for row in train:
        for qa in row["questions"]:
            counts.setdefault(qa["type"], Counter())[answer_fact(qa["type"], qa["answer"])] += 1
    return {kind: c.most_common(1)[0][0] for kind, c in counts.items()}


def with_video(messages: list[dict], video: str) -> list[dict]:
    """A copy of a conversation whose video blocks show `video`."""
    return [{**m, "content": [{**b, "path": video} if b.get("type") == "video" else b for b in m["content"]]}
            for m in messages]  # fmt: skip


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not progress, leave=False, file=sys.stderr)


# -- question answering ---------------------------------------------------------------------------


def answer_settings(processor) -> dict:
    """generate() settings for an answer: stop at `<end_of_turn>` or `<eos>`, pad with the pad token,
    and never emit the video placeholder (an answer is text)."""
    tokenizer = processor.tokenizer
    ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    stops = [i for i in dict.fromkeys(ids) if i is not None and i != tokenizer.unk_token_id]
    return {"eos_token_id": stops, "pad_token_id": tokenizer.pad_token_id, "suppress_tokens": [processor.video_token_id]}


@torch.no_grad()
def generate_answers(model, processor, conversations: list[list[dict]], batch_size: int = 16,
                     max_new_tokens: int = 32, bar=None) -> list[str]:  # fmt: skip
    """Greedy answers to the last user turn of each conversation (left-padded batches)."""
    tokenizer = processor.tokenizer
    answers = []
    for start in range(0, len(conversations), batch_size):
        chunk = conversations[start : start + batch_size]
        prompts = [processor.apply_chat_template(c, add_generation_prompt=True) for c in chunk]
        videos = [b["path"] for c in chunk for m in c for b in m["content"] if b.get("type") == "video"]
        inputs = processor(text=prompts, videos=videos, padding_side="left")
        inputs.pop("video_metadata", None)
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        tokens = model.generate(**inputs, **answer_settings(processor), max_new_tokens=max_new_tokens, do_sample=False)
        new = tokens[:, inputs["input_ids"].shape[1] :]
        answers += [a.strip() for a in tokenizer.batch_decode(new, skip_special_tokens=True)]
        if bar is not None:
            bar.update(len(chunk))
    return answers


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarise_qa(records: list[dict], majority: dict[str, Any] | None) -> dict:
    """Accuracies overall and per type from scored records (`correct`, `blind_correct`, `majority_correct`)."""

    def block(rows):
        out = {"questions": len(rows), "accuracy": _rate([r["correct"] for r in rows])}
        if rows and "blind_correct" in rows[0]:
            out["blind_accuracy"] = _rate([r["blind_correct"] for r in rows])
            out["gap"] = round(out["accuracy"] - out["blind_accuracy"], 4)
            out["answers_changed_by_video"] = _rate([r["answer"] != r["blind_answer"] for r in rows])
        if majority is not None:
            out["majority_accuracy"] = _rate([r["majority_correct"] for r in rows])
        out["unparsed"] = sum(r["parsed"] is None for r in rows)
        return out

    summary = block(records)
    summary["per_type"] = {}
    for kind in QUESTION_TYPES:
        rows = [r for r in records if r["type"] == kind]
        if rows:
            summary["per_type"][kind] = block(rows)
            if majority is not None and kind in majority:
                summary["per_type"][kind]["majority_answer"] = fact_text(majority[kind])
    return summary


def fact_text(fact) -> str:
    """A fact in words: "the red 3", "none", "yes", "3", "bottom-middle"."""
    from .training.billiards.physics import ball_name

    if isinstance(fact, (tuple, list)):
        return " and ".join(f"the {ball_name(b)}" for b in fact) or "none"
    return {True: "yes", False: "no"}.get(fact, str(fact)) if isinstance(fact, bool) else str(fact)


def _jsonable(fact):
    return list(fact) if isinstance(fact, tuple) else fact


def evaluate_qa(model, processor, dataset, *, max_questions: int | None = None, blind: bool = True,
                batch_size: int = 16, max_new_tokens: int = 32, seed: int = 0, progress: bool = False) -> dict:  # fmt: skip
    """QA accuracy on the test split with the blind and majority baselines; see the module docstring.

    Returns `{"questions", "accuracy", "blind_accuracy", "gap", "answers_changed_by_video",
    "majority_accuracy", "unparsed", "per_type": {type: the same}, "records": [per question]}`
    (rates in [0, 1]; the blind keys only with `blind` and two or more test clips; the majority
    keys only when `dataset` has a train split)."""
    from .answer_matching import parse_fact

    test, train = split_test_train(dataset)
    questions = questions_of(test, max_questions)
    if not questions:
        raise ValueError("the test split has no questions.")
    videos = test["video"]
    blind = blind and len(test) >= 2
    other = derangement(len(test), seed) if blind else None
    conversations = [q.messages for q in questions]
    if blind:
        conversations += [with_video(q.messages, videos[other[q.clip]]) for q in questions]
    bar = _bar(len(conversations), "QA (own video, then another clip's)" if blind else "QA", progress)
    answers = generate_answers(model, processor, conversations, batch_size, max_new_tokens, bar)
    bar.close()
    majority = majority_facts(train) if train is not None and len(train) else None
    records = []
    for k, q in enumerate(questions):
        record = {"id": q.id, "type": q.type, "question": q.question, "truth": q.answer, "fact": _jsonable(q.fact),
                  "answer": answers[k], "parsed": _jsonable(parse_fact(q.type, answers[k])),
                  "correct": match_answer(q.type, answers[k], q.fact)}  # fmt: skip
        if blind:
            blind_answer = answers[len(questions) + k]
            record.update(blind_video=test[other[q.clip]]["id"], blind_answer=blind_answer,
                          blind_correct=match_answer(q.type, blind_answer, q.fact))  # fmt: skip
        if majority is not None:
            record["majority_correct"] = majority.get(q.type) == q.fact
        records.append(record)
    return {**summarise_qa(records, majority), "records": records}


# -- the encoder: retrieval and grounding ---------------------------------------------------------


def _check_sizes(clip_model, processor):
    size, want = processor.video_processor.size, clip_model.config.vision_config.image_size
    if size != want:
        raise ValueError(f"the processor makes {size} px frames but the CLIP-ViP+ takes {want} px; use the "
                         f"encoder's own processor.")  # fmt: skip


@torch.no_grad()
def _encode_pool(clip_model, processor, rows, batch_size, bar, need_local=False):
    """Per batch: normalised video and text embeddings, and (with `need_local`) what grounding needs."""
    from .training.collator import caption_batch

    _check_sizes(clip_model, processor)
    tokenizer = processor.tokenizer
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        pixels = processor.video_processor([r["video"] for r in chunk])
        tokens = caption_batch(tokenizer, [r["caption"] for r in chunk], return_offsets_mapping=need_local)
        offsets = tokens.pop("offset_mapping", None)
        tokens = {k: v.to(clip_model.device) for k, v in tokens.items()}
        video = clip_model.vision_model(pixels["pixel_values_videos"].to(clip_model.device),
                                        output_hidden_states=need_local)  # fmt: skip
        text = clip_model.text_model(**tokens, output_hidden_states=need_local, return_dict=True)
        video_embeds = torch.nn.functional.normalize(clip_model.visual_projection(video.pooler_output), dim=-1)
        text_embeds = torch.nn.functional.normalize(clip_model.text_projection(text.pooler_output), dim=-1)
        yield chunk, video_embeds, text_embeds, (video, text, pixels, tokens, offsets)
        if bar is not None:
            bar.update(len(chunk))


def recall_at(similarity: torch.Tensor, ks=(1, 5)) -> dict[str, float]:
    """Rows are queries, columns candidates, the right candidate of row i is column i."""
    right = similarity.diagonal().unsqueeze(1)
    ranks = (similarity > right).sum(1)  # ties count in the query's favour
    return {f"R@{k}": round(float((ranks < k).float().mean()), 4) for k in ks}


def evaluate_retrieval(clip_model, processor, dataset, *, pool: int = 100, batch_size: int = 16,
                       progress: bool = False) -> dict:  # fmt: skip
    """Text-to-video and video-to-text R@1, R@5 among the first `pool` test clips and their captions
    (`caption`). Returns `{"pool", "text_to_video": {"R@1", "R@5"}, "video_to_text": {...},
    "chance": {...}}`."""
    test, _ = split_test_train(dataset)
    rows = [test[i] for i in range(min(pool, len(test)))]
    if len(rows) < 2:
        raise ValueError(f"retrieval needs at least 2 test clips, the split has {len(test)}.")
    bar = _bar(len(rows), "retrieval", progress)
    videos, texts = [], []
    for _, video_embeds, text_embeds, _ in _encode_pool(clip_model, processor, rows, batch_size, bar):
        videos.append(video_embeds.float().cpu())
        texts.append(text_embeds.float().cpu())
    bar.close()
    similarity = torch.cat(texts) @ torch.cat(videos).T  # [captions, videos]
    n = len(rows)
    return {"pool": n, "text_to_video": recall_at(similarity), "video_to_text": recall_at(similarity.T),
            "chance": {"R@1": round(1 / n, 4), "R@5": round(min(5, n) / n, 4)}}  # fmt: skip


COLOUR_WORDS = {name: number for number, (name, _) in BALL_COLOURS.items() if number <= 8}
_BALL_IN_CAPTION = re.compile(rf"\b(?:(?P<striped>striped)\s+)?(?P<colour>{'|'.join(COLOUR_WORDS)})\s+(?P<number>\d+)\b"
                              r"|\b(?P<cue>cue|white)\s+ball\b")  # fmt: skip


def ball_words(caption: str) -> list[tuple[int, int, int, str]]:
    """The words of a caption that name a ball: `(start, end, ball, kind)` with kind "colour",
    "number" or "cue" ("cue"/"white" of the cue ball)."""
    out = []
    for m in _BALL_IN_CAPTION.finditer(caption.lower()):
        if m["cue"]:
            out.append((m.start("cue"), m.end("cue"), 0, "cue"))
            continue
        ball = int(m["number"])
        out.append((m.start("colour"), m.end("colour"), ball, "colour"))
        out.append((m.start("number"), m.end("number"), ball, "number"))
    return out


def ball_patches(x: float, y: float, radius: float, width: int, height: int, size: int, patch: int) -> torch.Tensor:
    """[grid, grid] bool: the patches of a `size`-px model input (squash-resized from `width` x `height`)
    that cover a ball centred at (x, y) with `radius`, in the original frame's pixels."""
    grid = size // patch
    cx, cy, rx, ry = x * size / width, y * size / height, radius * size / width, radius * size / height
    edges = torch.arange(grid, dtype=torch.float64) * patch
    # the point of each patch nearest the centre, per axis; the patch covers the ball's ellipse if it is inside
    dx = (torch.clamp(torch.tensor(cx), edges, edges + patch) - cx) / rx
    dy = (torch.clamp(torch.tensor(cy), edges, edges + patch) - cy) / ry
    return dy[:, None] ** 2 + dx[None, :] ** 2 <= 1.0


def local_features(clip_model, text_outputs, video_outputs) -> tuple[torch.Tensor, torch.Tensor]:
    """The projected, normalised local text tokens [B, T, D] and patch tokens [B, F*L, D] that the
    SPARC loss compares (the last level for "all_layers"; the global heads on the final layer when
    the model has no local loss)."""
    config = clip_model.config
    if config.local_loss_placement == "none":
        prefix = config.vision_config.num_prefix_tokens
        text_h = text_outputs.last_hidden_state
        patch_h = clip_model.vision_model.post_layernorm(video_outputs.last_hidden_state[:, prefix:])
    else:
        text_h, patch_h = clip_model._local_features(text_outputs, video_outputs)[-1]
    text_head = clip_model.local_text_projection or clip_model.text_projection
    video_head = clip_model.local_visual_projection or clip_model.visual_projection
    normalize = torch.nn.functional.normalize
    return normalize(text_head(text_h), dim=-1), normalize(video_head(patch_h), dim=-1)


def frame_indices(pixels, b: int, row: dict, frames: int) -> list[int]:
    """The source frames the video processor took for video `b` (its metadata, else the uniform rule)."""
    from .processing import sample_indices

    metadata = pixels.get("video_metadata")
    if metadata is not None:
        return list(metadata[b]["frames_indices"])
    return sample_indices(row["num_frames"], frames).tolist()


def evaluate_grounding(clip_model, processor, dataset, *, max_clips: int = 100, batch_size: int = 16,
                       progress: bool = False) -> dict:  # fmt: skip
    """Hit rate of each ball-naming caption word's similarity peak, per frame, against the ball's
    true position, and the chance rate (the share of patches covering the ball), over the first
    `max_clips` test clips. Frames where the ball is off the table (pocketed) are left out.

    Returns `{"clips", "pairs", "hit_rate", "chance_rate", "ratio", "any_ball_rate", "by_kind":
    {"colour"|"number"|"cue": {"pairs", "hit_rate", "chance_rate", "any_ball_rate"}}}`. The overall
    figures count colour and number words (the cue ball's "cue"/"white" is reported under "cue"
    only). `any_ball_rate`: the peak covers some ball, named or not; a peak that finds balls but
    not the named one shows as a high any-ball rate beside a low hit rate."""
    test, _ = split_test_train(dataset)
    if processor.video_processor.resize_mode != "squash":
        raise ValueError("grounding maps ball positions through a squash resize; the processor uses "
                         f"resize_mode={processor.video_processor.resize_mode!r}.")  # fmt: skip
    rows = [test[i] for i in range(min(max_clips, len(test)))]
    vision = clip_model.config.vision_config
    size, patch, per_frame = vision.image_size, vision.patch_size, vision.num_patches_per_frame
    tokenizer = processor.tokenizer
    special, start = set(tokenizer.all_special_ids), len(tokenizer.bos_token) + 1  # "<bos> caption <eos>"
    pairs: dict[str, list[tuple[bool, float, bool]]] = {"colour": [], "number": [], "cue": []}  # (hit, chance, any)
    bar = _bar(len(rows), "grounding", progress)
    for chunk, _, _, (video, text, pixels, tokens, offsets) in _encode_pool(clip_model, processor, rows, batch_size,
                                                                            bar, need_local=True):  # fmt: skip
        words, patches = local_features(clip_model, text, video)
        frames = patches.shape[1] // per_frame
        patches = patches.view(len(chunk), frames, per_frame, -1)
        for b, row in enumerate(chunk):
            positions = json.loads(row["ball_positions"])
            covers = []  # per sampled frame: {ball: [patches] bool}
            for source in frame_indices(pixels, b, row, frames):
                covers.append({p["ball"]: ball_patches(p["x"], p["y"], p["radius"], row["width"], row["height"], size,
                                                       patch).flatten() for p in positions[source]})  # fmt: skip
            valid = [bool(m) and int(i) not in special for m, i in zip(tokens["attention_mask"][b], tokens["input_ids"][b])]
            for first, last, ball, kind in ball_words(row["caption"]):
                span = [t for t, (s, e) in enumerate(offsets[b].tolist())
                        if valid[t] and s < start + last and e > start + first and e > s]  # fmt: skip
                if not span:
                    continue
                word = torch.nn.functional.normalize(words[b, span].mean(0), dim=-1)
                peaks = (patches[b] @ word).argmax(-1).tolist()  # per frame
                for t, cover in enumerate(covers):
                    if ball in cover:  # on the table in this frame
                        on_any = any(bool(c[peaks[t]]) for c in cover.values())
                        pairs[kind].append((bool(cover[ball][peaks[t]]), float(cover[ball].float().mean()), on_any))
    bar.close()

    def block(rows):
        out = {"pairs": len(rows), "hit_rate": _rate([r[0] for r in rows]),
               "chance_rate": round(sum(r[1] for r in rows) / len(rows), 4) if rows else None,
               "any_ball_rate": _rate([r[2] for r in rows])}  # fmt: skip
        return out

    out = {"clips": len(rows), **block(pairs["colour"] + pairs["number"])}
    out["ratio"] = round(out["hit_rate"] / out["chance_rate"], 2) if out["pairs"] and out["chance_rate"] else None
    out["by_kind"] = {kind: block(rows) for kind, rows in pairs.items()}
    return out


# -- the whole evaluation -------------------------------------------------------------------------


def encoder_for(hilight, encoder_folder) -> tuple[Any, Any, list[str]]:
    """(CLIP-ViP+, its processor, notes) for a HiLight: E, with the HiLight's video tower loaded into
    it (strictly) when their weights differ."""
    from .bundled import load_model, model_type_of
    from .conversion_utils import load_state_dict_strictly

    if model_type_of(encoder_folder) != "clip_vip_plus":
        raise ValueError(f"{encoder_folder}: --encoder must be a CLIP-ViP+ checkpoint (model_type clip_vip_plus).")
    clip_model, processor = load_model(encoder_folder)
    tower, theirs = clip_model.vision_model.state_dict(), hilight.model.clip_vip.state_dict()
    same = tower.keys() == theirs.keys() and all(
        tower[k].shape == theirs[k].shape and torch.equal(tower[k], theirs[k]) for k in tower
    )
    if same:
        return clip_model, processor, [f"retrieval and grounding: {encoder_folder}, whose video tower equals the HiLight's."]
    load_state_dict_strictly(clip_model.vision_model, theirs, "the HiLight's model.clip_vip")
    return clip_model, processor, [
        f"retrieval and grounding: the HiLight's video tower (model.clip_vip) was loaded into {encoder_folder} "
        f"(strictly), whose own video tower differs; its text tower is {encoder_folder}'s."
    ]


def evaluate(model: str | None = None, data: str | None = None, *, encoder: str | None = None,
             max_questions: int | None = None, pool: int = 100, batch_size: int = 16, progress: bool = False,
             out: str | None = None) -> dict:  # fmt: skip
    """The whole `hilight eval`: load the checkpoint (default: the bundled HiLight and, when no
    `encoder` is given, the bundled encoder), evaluate what applies, and write the report to `out`."""
    from .bundled import BUNDLED, bundled_folder, load_model
    from .training.billiards import load_billiards

    if data is None:
        raise ValueError("--data is required: a billiards data set folder (`hilight data --out FOLDER`).")
    model_folder = Path(model) if model else bundled_folder("hilight")
    if encoder is None and model is None and (BUNDLED["clip_vip_plus"] / "config.json").is_file():
        encoder = str(BUNDLED["clip_vip_plus"])
    dataset = load_billiards(data)
    start = time.perf_counter()
    loaded, processor = load_model(model_folder)
    results: dict[str, Any] = {"model": str(model_folder), "data": str(data), "encoder": encoder, "notes": []}
    timings = {}
    clip_model = clip_processor = None
    if loaded.config.model_type == "hilight":
        t = time.perf_counter()
        results["qa"] = evaluate_qa(loaded, processor, dataset, max_questions=max_questions, batch_size=batch_size,
                                    progress=progress)  # fmt: skip
        timings["qa"] = round(time.perf_counter() - t, 1)
        if encoder:
            clip_model, clip_processor, notes = encoder_for(loaded, encoder)
            results["notes"] += notes
        else:
            results["notes"].append("retrieval and grounding need a CLIP-ViP+ text tower: pass --encoder FOLDER.")
    else:
        clip_model, clip_processor = loaded, processor
        results["notes"].append("a CLIP-ViP+ checkpoint: no QA.")
    if clip_model is not None:
        t = time.perf_counter()
        results["retrieval"] = evaluate_retrieval(clip_model, clip_processor, dataset, pool=pool,
                                                  batch_size=batch_size, progress=progress)  # fmt: skip
        timings["retrieval"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        results["grounding"] = evaluate_grounding(clip_model, clip_processor, dataset, max_clips=pool,
                                                  batch_size=batch_size, progress=progress)  # fmt: skip
        timings["grounding"] = round(time.perf_counter() - t, 1)
    results["seconds"] = {**timings, "total": round(time.perf_counter() - start, 1)}
    if out is not None:
        write_report(results, out)
    return results


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _points(value) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} points"


def report_markdown(results: dict) -> str:
    """eval.md: the gap first, then the tables."""
    lines = [f"# Evaluation of `{results['model']}`", "", f"Data: `{results['data']}` (test split)."]
    qa = results.get("qa")
    if qa:
        lines += ["", f"**Gap (accuracy with the right video minus with another clip's): {_points(qa.get('gap'))}** "
                  f"({_pct(qa['accuracy'])} against {_pct(qa.get('blind_accuracy'))} blind; "
                  f"{_pct(qa.get('majority_accuracy'))} for the most common answer per type; "
                  f"{qa['questions']} questions).", "",
                  f"Answers that changed with the clip: {_pct(qa.get('answers_changed_by_video'))}. "
                  f"Answers stating no readable fact: {qa['unparsed']}.", "",
                  "| question type | questions | accuracy | blind | gap | majority | majority answer |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        rows = list(qa["per_type"].items()) + [("**all**", qa)]
        for kind, row in rows:
            lines.append(f"| {kind} | {row['questions']} | {_pct(row['accuracy'])} | {_pct(row.get('blind_accuracy'))} "
                         f"| {_points(row.get('gap'))} | {_pct(row.get('majority_accuracy'))} "
                         f"| {row.get('majority_answer', '')} |")  # fmt: skip
    retrieval = results.get("retrieval")
    if retrieval:
        t2v, v2t, chance = retrieval["text_to_video"], retrieval["video_to_text"], retrieval["chance"]
        lines += ["", f"## Retrieval (pool of {retrieval['pool']} test clips)", "",
                  "| direction | R@1 | R@5 |", "|---|---|---|",
                  f"| text to video | {_pct(t2v['R@1'])} | {_pct(t2v['R@5'])} |",
                  f"| video to text | {_pct(v2t['R@1'])} | {_pct(v2t['R@5'])} |",
                  f"| chance | {_pct(chance['R@1'])} | {_pct(chance['R@5'])} |"]  # fmt: skip
    grounding = results.get("grounding")
    if grounding:
        lines += ["", f"## Grounding ({grounding['clips']} test clips)", "",
                  f"Ball-naming words (colour or number): the similarity peak covers the ball in "
                  f"{_pct(grounding['hit_rate'])} of {grounding['pairs']} word-frame pairs; chance "
                  f"{_pct(grounding['chance_rate'])} (ratio {grounding['ratio']}).", "",
                  "| word | pairs | hit rate | chance | peak on any ball |", "|---|---|---|---|---|"]  # fmt: skip
        for kind, row in grounding["by_kind"].items():
            lines.append(f"| {kind} | {row['pairs']} | {_pct(row['hit_rate'])} | {_pct(row['chance_rate'])} "
                         f"| {_pct(row['any_ball_rate'])} |")  # fmt: skip
    if results.get("notes"):
        lines += ["", "Notes:", *[f"- {note}" for note in results["notes"]]]
    lines += ["", f"Time: {results['seconds']}."]
    return "\n".join(lines) + "\n"


def write_report(results: dict, out: str | Path) -> tuple[Path, Path]:
    """`eval.json` (everything, with every QA record) and `eval.md` in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(results, indent=1))
    (out / "eval.md").write_text(report_markdown(results))
    return out / "eval.json", out / "eval.md"


# -- the command ----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="a HiLight or CLIP-ViP+ checkpoint folder (default: the bundled HiLight)")
    parser.add_argument("--data", required=True, help="a billiards data set folder (`hilight data --out FOLDER`)")
    parser.add_argument("--out", default="eval", help="folder for eval.json and eval.md (default: ./eval)")
    parser.add_argument("--max-questions", type=int, help="answer at most this many test questions")
    parser.add_argument("--encoder", help="a CLIP-ViP+ folder for retrieval and grounding of a HiLight")
    parser.add_argument("--pool", type=int, default=100, help="test clips for retrieval and grounding")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def run(args: argparse.Namespace) -> int:
    from .cli import quiet_libraries, report_error

    quiet_libraries()
    try:
        results = evaluate(args.model, args.data, encoder=args.encoder, max_questions=args.max_questions,
                           pool=args.pool, batch_size=args.batch_size, progress=not args.no_progress, out=args.out)  # fmt: skip
    except Exception as error:  # one line on stderr, the traceback with --debug
        return report_error("eval", error, args.debug)
    print(report_markdown(results), end="")
    print(f"wrote {Path(args.out) / 'eval.json'} and {Path(args.out) / 'eval.md'}")
    return 0


__all__ = ["evaluate", "evaluate_grounding", "evaluate_qa", "evaluate_retrieval", "report_markdown", "write_report"]
