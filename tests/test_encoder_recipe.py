"""The CLIP-ViP+ language mask follows the tokenizer (pad/eos, stop words) for every way a model is made
(converters, the encoder stage), and the full encoder recipe takes its first steps at reduced width."""

import math

import pytest
import torch
from clip_tokenizer_fixtures import clip_tokenizer
from training_fixtures import RECIPES, billiards
from transformers import CLIPConfig, CLIPModel

from modeling_hilight import CLIPViPPlusConfig, CLIPViPPlusModel
from modeling_hilight.configuration_clip_vip_plus import DEFAULT_STOPWORDS
from modeling_hilight.convert_clip_vip import clip_vip_plus_from_clip, convert_clip_vip_checkpoint
from modeling_hilight.language_mask import use_tokenizer
from modeling_hilight.training.cli import main as cli_main
from modeling_hilight.training.train import build, parse

CAPTION = 'the red ball goes into the top left pocket once "one".'


def words_in_local_loss(tokenizer, config, text=CAPTION) -> list[str]:
    ids = tokenizer([text], return_tensors="pt")
    mask = CLIPViPPlusModel.language_mask(type("M", (), {"config": config})(), ids["input_ids"], ids["attention_mask"])
    return [t for t, keep in zip(tokenizer.convert_ids_to_tokens(ids["input_ids"][0]), mask[0]) if keep]


def test_use_tokenizer_takes_pad_eos_and_stop_words_from_the_tokenizer():
    tokenizer = clip_tokenizer()
    config = CLIPViPPlusConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=2))  # as on the Hub
    assert config.text_config.pad_token_id == 1 and tokenizer.convert_ids_to_tokens(1) == '"'  # the trap
    use_tokenizer(config, tokenizer)
    text = config.text_config
    assert (text.pad_token_id, text.bos_token_id, text.eos_token_id) == (664, 663, 664)
    assert sorted(tokenizer.convert_ids_to_tokens(config.language_mask_token_ids)) == sorted(
        w + "</w>" for w in DEFAULT_STOPWORDS if w + "</w>" in tokenizer.get_vocab()
    )
    # the quote (id 1) and "one" (a ball) stay in the local loss; stop words and special tokens leave it
    assert words_in_local_loss(tokenizer, config) == ["red</w>", "ball</w>", "goes</w>", "top</w>", "left</w>",
                                                      "pocket</w>", '"</w>', "one</w>", '"']  # fmt: skip
    assert "one" not in DEFAULT_STOPWORDS


def test_use_tokenizer_keeps_existing_ids_and_refuses_a_foreign_tokenizer():
    tokenizer = clip_tokenizer()
    config = CLIPViPPlusConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=664), language_mask_token_ids=[7, 8])
    use_tokenizer(config, tokenizer)
    assert config.language_mask_token_ids == [7, 8]
    with pytest.raises(ValueError, match="has 665 tokens but the text tower's vocabulary only 600"):
        use_tokenizer(CLIPViPPlusConfig(text_config=dict(vocab_size=600)), tokenizer)
    with pytest.raises(ValueError, match="ends text with id 664 .* pools at id 5"):
        use_tokenizer(CLIPViPPlusConfig(text_config=dict(vocab_size=665, eos_token_id=5)), tokenizer)


def reduced_clip(vocab: int) -> CLIPModel:
    """CLIP B/16's layout (224 px, patch 16, 77 text positions) at width 64 and 2 layers."""
    torch.manual_seed(0)
    return CLIPModel(CLIPConfig(
        text_config=dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=1, max_position_embeddings=77, eos_token_id=2),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
                           image_size=224, patch_size=16),
        projection_dim=32,
    ))  # fmt: skip


def published_checkpoint(path, vocab: int, logit_scale: float = 6.0):
    """pretrain_clipvip_base_16.pt's layout (CLIPModel keys under `clipmodel.`, proxies, temporal rows)."""
    state = {"clipmodel." + k: v.clone() for k, v in reduced_clip(vocab).state_dict().items()}
    state["clipmodel.logit_scale"] = torch.tensor(logit_scale)
    state["clipmodel.vision_model.embeddings.added_cls"] = torch.randn(3, 64)
    state["clipmodel.vision_model.embeddings.temporal_embedding"] = torch.randn(1, 12, 64) * 0.02
    torch.save(state, path)


def test_converters_fill_the_language_mask_from_the_tokenizer(tmp_path):
    tokenizer = clip_tokenizer()
    tokenizer.save_pretrained(tmp_path / "tok")
    published_checkpoint(tmp_path / "ckpt.pt", len(tokenizer))
    assert cli_main(["convert", "clip-vip", "--checkpoint", str(tmp_path / "ckpt.pt"), "--tokenizer",
                     str(tmp_path / "tok"), "--out", str(tmp_path / "vip")]) == 0  # fmt: skip
    clip = reduced_clip(len(tokenizer))
    clip.save_pretrained(tmp_path / "clip")
    tokenizer.save_pretrained(tmp_path / "clip")  # a CLIP folder with its tokenizer, as on the Hub
    from_clip = clip_vip_plus_from_clip(tmp_path / "clip")
    expected = words_in_local_loss(tokenizer, use_tokenizer_config(tokenizer))
    for model in (CLIPViPPlusModel.from_pretrained(tmp_path / "vip"), from_clip):
        assert model.config.language_mask_policy == "stopwords"
        assert words_in_local_loss(tokenizer, model.config) == expected
        ids = tokenizer([CAPTION, "the cue ball"], padding=True, return_tensors="pt")
        out = model(**ids, pixel_values_videos=torch.randn(2, 2, 3, 224, 224), return_loss=True)
        assert torch.isfinite(out.loss) and out.loss_local > 0
    # the legacy eos 2 of the CLIP config became the tokenizer's: the text tower pools at <|endoftext|>
    assert from_clip.config.text_config.eos_token_id == 664 and from_clip.text_model.eos_token_id == 664
    with pytest.raises(ValueError, match="tok2: no such tokenizer folder"):
        convert_clip_vip_checkpoint(tmp_path / "ckpt.pt", tokenizer=tmp_path / "tok2")


def use_tokenizer_config(tokenizer):
    config = CLIPViPPlusConfig(text_config=dict(vocab_size=len(tokenizer), eos_token_id=664))
    use_tokenizer(config, tokenizer)
    return config


def test_full_encoder_recipe_takes_its_first_steps_at_reduced_width(tmp_path):
    """encoder_full.yaml as written (12 frames, 224 px, jitter, pre_projection, lr, schedule, gradient
    checkpointing), from a converted CLIP-ViP without tokenizer ids: the stage fills them from the
    recipe's tokenizer, and clamps logit_scale (6.0 in the checkpoint) to ln 200 after the step."""
    tokenizer = clip_tokenizer()
    tokenizer.save_pretrained(tmp_path / "tok")
    published_checkpoint(tmp_path / "ckpt.pt", len(tokenizer), logit_scale=6.0)
    assert cli_main(["convert", "clip-vip", "--checkpoint", str(tmp_path / "ckpt.pt"), "--out", str(tmp_path / "vip")]) == 0
    assert CLIPViPPlusModel.from_pretrained(tmp_path / "vip").config.language_mask_token_ids is None
    data = billiards(tmp_path / "data", clips=4)
    overrides = dict(data=data, output_dir=tmp_path / "run", model=tmp_path / "vip", tokenizer=tmp_path / "tok",
                     max_steps=2, per_device_train_batch_size=2, max_train_samples=2, bf16=False, use_cpu=True,
                     report_to="none", dataloader_num_workers=0, save_strategy="no", logging_steps=1,
                     disable_tqdm=True)  # fmt: skip
    recipe, args = parse("encoder", str(RECIPES / "encoder_full.yaml"),
                         [x for k, v in overrides.items() for x in (f"--{k}", str(v))])  # fmt: skip
    assert (recipe.num_frames, recipe.image_size, args.gradient_checkpointing) == (12, 224, True)
    trainer, processor, skipped = build("encoder", recipe, args)
    model = trainer.model
    assert model.config.language_mask_token_ids and model.config.text_config.pad_token_id == tokenizer.pad_token_id
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert batch["pixel_values_videos"].shape == (2, 12, 3, 224, 224)
    trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses) and skipped.count == 0
    # 6.0 in the checkpoint; clamped to ln 200 after step 1, then moved by one step of about the lr
    assert torch.tensor(math.log(200.0)).item() - 1e-4 < model.logit_scale.item() <= torch.tensor(math.log(200.0)).item()
    with torch.no_grad():
        out = model(**{k: v for k, v in batch.items() if k != "return_loss"}, return_loss=True)
    mask_words = [t for t, keep in zip(tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), out.language_mask[0]) if keep]
    assert mask_words and not {"the</w>", "<|endoftext|>", "<|startoftext|>"} & set(mask_words)


@pytest.mark.parametrize("name", sorted(p.name for p in RECIPES.glob("*.yaml")))
def test_every_shipped_recipe_parses_with_command_line_overrides(name):
    stage = name.split("_")[0]
    recipe, args = parse(stage, str(RECIPES / name), ["--data", "d", "--output_dir", "o", "--report_to", "none",
                                                       "--local_loss_placement", "none", "--max_tokens", "null",
                                                       "--bf16", "false"])  # fmt: skip (bf16 needs a GPU)
    assert recipe.local_loss_placement == "none" and recipe.max_tokens is None and args.report_to == []
    if "tiny" not in name:
        assert 0 < args.warmup_steps < 1  # a fraction of the steps
