"""The HiLight converter gives `<video>` one of Gemma's reserved `<unusedN>` ids, so the converted
folder's tokenizer, processor and config agree on an id inside the LLM's embedding table."""

import json

import pytest
import torch
from hilight_fixtures import tiny_model
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, PreTrainedTokenizerFast
from transformers.models.auto.processing_auto import AutoProcessor
from video_fixtures import write_video

from modeling_hilight.convert_hilight import assemble_hilight, convert_hilight, video_tokenizer

RESERVED = ["<mask>", "[multimodal]"] + [f"<unused{i}>" for i in range(6)] + ["<start_of_turn>", "<end_of_turn>"]
WORDS = ["which", "ball", "went", "in", "?", "the", "red", "3", ".", "user", "model"]


def gemma_like_tokenizer() -> PreTrainedTokenizerFast:
    """Gemma's layout in small: <pad> <eos> <bos> <unk>, then reserved tokens (<unused0> at id 6 here)
    and the turn markers, all in the vocabulary; no <video>."""
    vocab = {t: i for i, t in enumerate(["<pad>", "<eos>", "<bos>", "<unk>", *RESERVED, *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>",
                                        bos_token="<bos>", unk_token="<unk>")  # fmt: skip
    tokenizer.add_tokens([AddedToken(t, normalized=False) for t in RESERVED])
    return tokenizer


@pytest.fixture
def pieces(tmp_path):
    """The four published pieces at tiny size, the LLM folder holding a Gemma-like tokenizer."""
    from test_convert_clip_vip import published_state_dict
    from test_convert_long_clip import long_clip_state
    from test_token_mining import published_file

    torch.save(published_state_dict(), tmp_path / "clipvip.pt")
    torch.save(long_clip_state(), tmp_path / "longclip.pt")
    mining, _ = published_file(tmp_path, vip=64, aux=16, text=64, queries=4)
    tokenizer = gemma_like_tokenizer()
    text_config = tiny_model().config.text_config
    text_config.vocab_size = len(tokenizer)
    AutoModelForCausalLM.from_config(text_config).save_pretrained(tmp_path / "gemma")
    tokenizer.save_pretrained(tmp_path / "gemma")
    return [tmp_path / "clipvip.pt", tmp_path / "longclip.pt", mining, tmp_path / "gemma"], tokenizer


def test_video_takes_the_id_of_unused0_and_the_vocabulary_does_not_grow():
    tokenizer = gemma_like_tokenizer()
    renamed = video_tokenizer(tokenizer)
    spare = tokenizer.convert_tokens_to_ids("<unused0>")
    assert renamed.convert_tokens_to_ids("<video>") == spare == 6 and len(renamed) == len(tokenizer)
    which, ball = tokenizer.convert_tokens_to_ids(["which", "ball"])
    assert renamed("which <video> <video> ball", add_special_tokens=False)["input_ids"] == [which, 6, 6, ball]
    assert renamed.convert_tokens_to_ids("<unused1>") == 7  # the other reserved tokens stay
    assert video_tokenizer(renamed) is renamed  # already has <video>
    plain = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, unk_token="<unk>")),
                                    unk_token="<unk>")  # fmt: skip
    with pytest.raises(ValueError, match="has neither '<video>' nor the reserved token '<unused0>'"):
        video_tokenizer(plain)


def test_converted_folder_tokenizer_processor_and_config_agree(pieces, tmp_path):
    paths, source_tokenizer = pieces
    model, _ = convert_hilight(*paths, out=tmp_path / "hilight", num_frames=4)
    spare = source_tokenizer.convert_tokens_to_ids("<unused0>")
    config = AutoConfig.from_pretrained(tmp_path / "hilight")
    processor = AutoProcessor.from_pretrained(tmp_path / "hilight")
    saved = json.loads((tmp_path / "hilight" / "tokenizer.json").read_text())
    assert [t["id"] for t in saved["added_tokens"] if t["content"] == "<video>"] == [spare]
    assert config.video_token_id == processor.video_token_id == processor.tokenizer.convert_tokens_to_ids("<video>") == spare
    assert config.text_config.vocab_size == len(processor.tokenizer) == len(source_tokenizer)  # nothing to resize
    end_of_turn = source_tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert model.generation_config.eos_token_id == [end_of_turn, 1]  # a model turn ends <end_of_turn>\n<eos>
    # the folder works end to end: a video and a question through its processor into its model
    loaded = AutoModelForImageTextToText.from_pretrained(tmp_path / "hilight").eval()
    clip = write_video(tmp_path / "clip.mp4", frames=12, width=32, height=32)
    conversation = [{"role": "user", "content": [{"type": "video", "path": str(clip)},
                                                 {"type": "text", "text": "which ball went in ?"}]}]  # fmt: skip
    inputs = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True, return_tensors="pt")
    assert (inputs["input_ids"] == spare).sum() == 4 * 4 and inputs["pixel_values_videos"].shape[:2] == (1, 4)
    out = loaded.generate(**inputs, max_new_tokens=2, do_sample=False)
    assert out.shape == (1, inputs["input_ids"].shape[1] + 2)


def test_cli_writes_model_and_processor(pieces, tmp_path, capsys):
    from modeling_hilight.training.cli import main

    paths, _ = pieces
    args = ["convert", "hilight", "--clip-vip", str(paths[0]), "--long-clip", str(paths[1]), "--token-mining",
            str(paths[2]), "--language-model", str(paths[3]), "--out", str(tmp_path / "cli")]  # fmt: skip
    assert main(args) == 0 and "and its processor" in capsys.readouterr().out
    assert AutoConfig.from_pretrained(tmp_path / "cli").video_token_id == 6
    assert AutoProcessor.from_pretrained(tmp_path / "cli").video_token_id == 6


def test_an_id_outside_the_embedding_table_is_refused(pieces):
    paths, tokenizer = pieces
    with pytest.raises(ValueError, match=rf"video_token_id {len(tokenizer)} is outside the LLM's {len(tokenizer)} "):
        assemble_hilight(*paths, video_token_id=len(tokenizer))


def test_the_readme_conversion_snippet_runs_as_written(pieces, tmp_path, monkeypatch):
    """With tiny stand-ins at the published file names (the real ones cannot be downloaded here)."""
    import shutil

    from readme_snippets import python_blocks

    paths, _ = pieces
    work = tmp_path / "work"
    (work / "path" / "to").mkdir(parents=True)
    for source, name in zip(paths[:3], ["pretrain_clipvip_base_16.pt", "longclip-B.pt", "token_mining.bin"]):
        shutil.copy(source, work / name)
    shutil.copytree(paths[3], work / "path" / "to" / "gemma-2b-merged")
    monkeypatch.chdir(work)
    scope: dict = {}
    (block,) = python_blocks("### The published HiLight weights")
    exec(compile(block, "README.md", "exec"), scope)  # noqa: S102
    assert AutoConfig.from_pretrained(work / "hilight-2b").video_token_id == scope["processor"].video_token_id == 6
    assert scope["mining"].queries_per_frame == 4
