"""The supervised grounding loss and its ground truth: words that name balls, the patch that
holds each ball, the collator's targets, and the loss against a loop written out."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from training_fixtures import billiards, recipe

from modeling_hilight import CLIPViPPlusConfig, CLIPViPPlusModel, HiLightConfig, HiLightForConditionalGeneration
from modeling_hilight.grounding_loss import PatchGroundingLoss, QueryGroundingLoss
from modeling_hilight.token_mining import ImprovedTokenMining
from modeling_hilight.training.billiards.grounding import ball_patch, ball_patches, ball_words, query_targets, token_balls
from modeling_hilight.training.billiards.physics import BALL_COLOURS
from modeling_hilight.training.collator import VideoCaptionCollator, VideoChatCollator
from modeling_hilight.training.data import load_training_data
from modeling_hilight.training.train import make_processor


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The cue ball sends the red 3 into the top-left pocket.", [("cue", 0), ("red", 3), ("3", 3)]),
        ("the striped maroon 15 drops in", [("maroon", 15), ("15", 15)]),
        ("The white ball makes first contact with the Black 8.", [("white", 0), ("Black", 8), ("8", 8)]),
        ("after one cushion, 3 balls remain", []),  # counts name nothing
        ("the red 5 is no ball", []),  # colour and number disagree
        ("the cue stick", []),
    ],
)
def test_ball_words_find_the_words_that_name_a_ball(text, expected):
    assert [(text[s:e], ball) for s, e, ball in ball_words(text)] == expected


def test_token_balls_maps_character_spans_to_tokens():
    offsets = [(0, 0), (0, 3), (4, 7), (8, 11), (12, 13), (0, 0)]  # "<bos>" "the" "red" ... "3" "<pad>"
    assert token_balls(offsets, [(8, 11, 3), (12, 13, 3)]) == [(3, 3), (4, 3)]


def test_ball_patch_and_covered_patches_after_a_squash_resize():
    # a 128 x 64 frame squashed to 96 x 96, patches of 8: x scales by 0.75, y by 1.5
    assert ball_patch(10.0, 10.0, 128, 64, 96, 8) == (15 // 8) * 12 + (7 // 8)
    assert ball_patch(127.9, 63.9, 128, 64, 96, 8) == 143
    covered = ball_patches(20.0, 20.0, 2.0, 128, 64, 96, 8)  # centre (15, 30), radii (1.5, 3)
    assert ball_patch(20.0, 20.0, 128, 64, 96, 8) in covered
    brute = {
        (int(y) // 8) * 12 + int(x) // 8
        for x in np.linspace(15 - 1.5, 15 + 1.5, 61)
        for y in np.linspace(30 - 3, 30 + 3, 61)
        if ((x - 15) / 1.5) ** 2 + ((y - 30) / 3) ** 2 <= 1
    }
    assert covered == brute


def test_grounding_loss_equals_a_loop_over_targets():
    torch.manual_seed(0)
    text, patches = torch.randn(2, 5, 8), torch.randn(2, 3 * 4, 8)  # 3 frames of 4 patches
    targets = torch.tensor([[0, 1, 0, 3], [1, 4, 2, 0], [1, 2, 1, 2]])
    loss = PatchGroundingLoss(logit_scale=7.0)(text, patches, targets, patches_per_frame=4)
    terms = []
    for b, t, f, p in targets.tolist():
        word = text[b, t] / text[b, t].norm()
        region = patches[b, 4 * f : 4 * f + 4]
        logits = 7.0 * (region / region.norm(dim=-1, keepdim=True)) @ word
        terms.append(-torch.log_softmax(logits, 0)[p])
    torch.testing.assert_close(loss, torch.stack(terms).mean())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return billiards(tmp_path_factory.mktemp("billiards"), clips=6)


def test_collator_targets_point_at_pixels_of_the_named_ball(data, tmp_path):
    """Independent of the index arithmetic: the decoded frame, at the target patch, shows the
    named ball's colour (nearer to it than to the table's cloth)."""
    train = load_training_data(data)["train"]
    r, _ = recipe("encoder", data, tmp_path / "out", image_size=64, num_frames=6)
    processor = make_processor(r, train)
    collator = VideoCaptionCollator(processor, grounding_patch_size=8)
    batch = collator([train[i] for i in range(len(train))])
    targets = batch["grounding_targets"]
    assert targets.shape[1] == 4 and len(targets) > 0
    mean = torch.tensor(processor.video_processor.image_mean).view(3, 1, 1)
    std = torch.tensor(processor.video_processor.image_std).view(3, 1, 1)
    tokens = processor.tokenizer.convert_ids_to_tokens
    hits = 0
    for sample, token, frame, patch in targets.tolist():
        word = tokens(int(batch["input_ids"][sample, token]))
        assert word in {"cue", "white"} or word.isdigit() or word in {c for c, _ in BALL_COLOURS.values()}
        pixels = (batch["pixel_values_videos"][sample, frame] * std + mean) * 255  # [3, 64, 64]
        row, column = divmod(patch, 8)
        region = pixels[:, row * 8 : row * 8 + 8, column * 8 : column * 8 + 8].reshape(3, -1).T
        cloth = pixels.reshape(3, -1).median(dim=1).values
        ball = next(b for b in range(16) if tokens(int(batch["input_ids"][sample, token])) in
                    (str(b), BALL_COLOURS[b][0]) or (b == 0 and word in {"cue", "white"}))  # fmt: skip
        colour = torch.tensor(BALL_COLOURS[ball][1], dtype=torch.float32)
        # some pixel of the patch is nearer the ball's colour than the cloth is
        hits += bool(((region - colour).norm(dim=1) < (cloth - colour).norm() * 0.8).any())
    assert hits / len(targets) > 0.9


def test_grounding_loss_joins_the_model_loss_with_its_weight():
    config = CLIPViPPlusConfig(
        text_config=dict(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=16, patch_size=8, temporal_size=2),
        projection_dim=8, language_mask_policy="special_tokens", grounding_loss_weight=0.5,
    )  # fmt: skip
    torch.manual_seed(0)
    model = CLIPViPPlusModel(config)
    ids, video = torch.randint(5, 50, (2, 6)), torch.randn(2, 2, 3, 16, 16)
    targets = torch.tensor([[0, 2, 1, 3], [1, 4, 0, 0]])
    with_targets = model(input_ids=ids, pixel_values_videos=video, grounding_targets=targets, return_loss=True)
    without = model(input_ids=ids, pixel_values_videos=video, return_loss=True)
    expected = PatchGroundingLoss(20.0)(with_targets.local_text_tokens, with_targets.local_video_tokens, targets, 4)
    torch.testing.assert_close(with_targets.loss_grounding, expected)
    torch.testing.assert_close(with_targets.loss, without.loss + 0.5 * expected)
    assert without.loss_grounding is None


def test_query_targets_name_each_balls_patch_or_cls():
    positions = [[{"ball": 0, "x": 10.0, "y": 10.0, "radius": 2}, {"ball": 3, "x": 100.0, "y": 50.0, "radius": 2}],
                 [{"ball": 0, "x": 30.0, "y": 40.0, "radius": 2}]]  # fmt: skip
    targets = query_targets(positions, [0, 1], 128, 64, 96, 8, prefix=4, queries=18)
    assert len(targets) == 2 and all(len(row) == 18 for row in targets)
    assert targets[0][0] == 4 + ball_patch(10.0, 10.0, 128, 64, 96, 8)
    assert targets[0][3] == 4 + ball_patch(100.0, 50.0, 128, 64, 96, 8)
    assert targets[1][3] == 0 and targets[0][5] == 0  # off the table: CLS
    assert targets[0][16:] == [-100, -100]  # no ball 16 or 17


def test_query_attention_weights_and_loss_equal_a_loop():
    torch.manual_seed(0)
    mining = ImprovedTokenMining(8, 10, 12, 16, queries_per_frame=3, num_heads=2, attention="frame",
                                 num_prefix_tokens=2, patches_per_frame=4)  # fmt: skip
    clip, keys = torch.randn(2, 2 + 3 * 4, 8), torch.randn(2, 3, 10)
    weights = mining.attention_weights(clip, keys)
    assert weights.shape == (2, 3, 3, 6)
    with torch.no_grad():
        for v in range(2):
            for k in range(3):
                kv = mining.kv_norm(torch.cat([clip[v, :2], clip[v, 2 + 4 * k : 6 + 4 * k]]))
                q = mining.q_proj(mining.query_norm(mining.keyframe_projector(keys[v, k]) + mining.slots))
                key = mining.k_proj(kv)
                expected = sum(torch.softmax(q[:, 8 * h : 8 * h + 8] @ key[:, 8 * h : 8 * h + 8].T / 8**0.5, -1)
                               for h in range(2)) / 2  # fmt: skip
                torch.testing.assert_close(weights[v, k], expected, atol=1e-6, rtol=1e-5)
    targets = torch.randint(0, 6, (2, 3, 3))
    targets[0, 0, 0] = -100
    loss = QueryGroundingLoss()(weights, targets)
    picked = [-weights[v, k, j, targets[v, k, j]].log() for v in range(2) for k in range(3) for j in range(3)
              if targets[v, k, j] != -100]  # fmt: skip
    torch.testing.assert_close(loss, torch.stack(picked).mean())


def test_hilight_loss_adds_the_weighted_query_grounding_loss():
    config = HiLightConfig.tiny(token_mining_variant="improved", token_mining_attention="frame",
                                query_grounding_loss_weight=0.25)  # fmt: skip
    torch.manual_seed(0)
    model = HiLightForConditionalGeneration(config)
    ids = torch.tensor([[2] + [config.video_token_id] * config.num_vision_tokens + [5, 6, 7]])
    video = torch.randn(1, config.num_frames, 3, 32, 32)
    targets = torch.randint(0, 5, (1, config.num_frames, config.queries_per_frame))
    with_targets = model(input_ids=ids, pixel_values_videos=video, labels=ids, token_mining_targets=targets)
    plain = model(input_ids=ids, pixel_values_videos=video, labels=ids)
    assert plain.query_grounding_loss is None
    torch.testing.assert_close(with_targets.loss, plain.loss + 0.25 * with_targets.query_grounding_loss)
    with pytest.raises(ValueError, match="token_mining_targets need pixel_values_videos"):
        model(input_ids=ids[:, -3:], token_mining_targets=targets)


def test_chat_collator_query_targets_point_at_pixels_of_each_ball(data, tmp_path):
    train = load_training_data(data)["train"]
    r, _ = recipe("align", data, tmp_path / "out", image_size=64, num_frames=5)
    processor = make_processor(r, train)
    collator = VideoChatCollator(processor, query_grounding=(8, 4, 16))
    batch = collator([train[i] for i in range(len(train))])
    targets = batch["token_mining_targets"]
    assert targets.shape == (len(train), 5, 16)
    mean = torch.tensor(processor.video_processor.image_mean).view(3, 1, 1)
    std = torch.tensor(processor.video_processor.image_std).view(3, 1, 1)
    hits = checked = 0
    for v, frame, ball in (targets >= 4).nonzero().tolist():
        pixels = (batch["pixel_values_videos"][v, frame] * std + mean) * 255
        row, column = divmod(int(targets[v, frame, ball]) - 4, 8)
        region = pixels[:, row * 8 : row * 8 + 8, column * 8 : column * 8 + 8].reshape(3, -1).T
        cloth = pixels.reshape(3, -1).median(dim=1).values
        colour = torch.tensor(BALL_COLOURS[ball][1], dtype=torch.float32)
        hits += bool(((region - colour).norm(dim=1) < (cloth - colour).norm() * 0.8).any())
        checked += 1
    assert checked > 10 and hits / checked > 0.85  # balls of 2 x 4 px: a few sit on patch corners
    # every ball of the first row's first frame that the truth lists is labelled, and no other
    first = json.loads(train[0]["ball_positions"])[0]
    assert {b["ball"] for b in first} == set((targets[0, 0] >= 4).nonzero().flatten().tolist())


def test_instruct_stage_keeps_the_query_grounding_loss(data, tmp_path):
    """With query_grounding_loss_weight, the instruct stage (TRL SFTTrainer, LoRA) trains on the same
    targets as align: the collator gives them and the trained loss adds the weighted term."""
    from modeling_hilight.training.train import build

    r, args = recipe("instruct", data, tmp_path / "out", token_mining_variant="improved",
                     token_mining_attention="frame", query_grounding_loss_weight=0.5, max_steps=2)  # fmt: skip
    trainer, _, _ = build("instruct", r, args)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert batch["token_mining_targets"].shape == (2, 4, 2)
    assert (batch["token_mining_targets"] >= 0).all()  # one clip a row: every query is labelled
    model = trainer.model
    assert model.get_base_model().config.query_grounding_loss_weight == 0.5
    model.eval()
    with torch.no_grad():
        both = model(**batch)
        plain = model(**{k: v for k, v in batch.items() if k != "token_mining_targets"})
    torch.testing.assert_close(both.loss, plain.loss + 0.5 * both.query_grounding_loss)
    trainer.train()
    assert trainer.state.global_step == 2


def test_query_grounding_needs_frame_local_token_mining(data, tmp_path):
    from modeling_hilight.training.train import build

    r, args = recipe("align", data, tmp_path / "out", token_mining_variant="structure2", query_grounding_loss_weight=1.0)
    with pytest.raises(ValueError, match="needs token mining 'improved' with attention 'frame'.*'structure2'"):
        build("align", r, args)
