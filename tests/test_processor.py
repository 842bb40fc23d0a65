"""HiLightProcessor: placeholder expansion, chat template, masks, padding, truncation, round trips."""

import numpy as np
import pytest
import torch
from remote_code_utils import run_without_package
from transformers import AutoProcessor
from video_fixtures import write_video

from modeling_hilight import HiLightProcessor, HiLightVideoProcessor, build_hilight_tokenizer

PT = {"tokenize": True, "return_tensors": "pt"}  # model inputs as tensors
WORDS = ["which ball went into a pocket ?", "the red 3 went into the top-left pocket .", "how many cushions ?", "two"]


@pytest.fixture
def processor():
    return HiLightProcessor(HiLightVideoProcessor(size=16, num_frames=4), build_hilight_tokenizer(WORDS),
                            queries_per_frame=2)  # fmt: skip


@pytest.fixture
def clips(tmp_path):
    return [str(write_video(tmp_path / f"c{i}.mp4", frames=12 + i)) for i in range(3)]


def turn(role, *blocks):
    return {"role": role, "content": list(blocks)}


def video(path):
    return {"type": "video", "path": path}


def text(t):
    return {"type": "text", "text": t}


def tokens(processor, ids, mask=None):
    return [t for t, keep in zip(processor.tokenizer.convert_ids_to_tokens(ids), mask or [1] * len(ids)) if keep]


def test_each_video_placeholder_becomes_frames_times_queries_tokens(processor, clips):
    out = processor(text=["<video>\nwhich ball ?", "<video> <video> how many ?"], videos=clips, return_metadata=True)
    vid = processor.video_token_id
    assert [(row == vid).sum().item() for row in out["input_ids"]] == [8, 16]
    assert out["pixel_values_videos"].shape == (3, 4, 3, 16, 16)
    assert [m["source"] for m in out["video_metadata"]] == clips  # order of appearance
    with pytest.raises(ValueError, match=r"2 <video> placeholders \(per sample: \[1, 1\]\) but 3 videos"):
        processor(text=["<video> a", "<video> b"], videos=clips)


def test_chat_template_renders_the_reference_turns_with_videos_first(processor, clips):
    conversation = [
        turn("user", text("which ball went into a pocket?"), video(clips[0])),
        turn("assistant", text("the red 3.")),
        turn("user", text("how many cushions?")),  # a turn with no video
        turn("assistant", text("two")),
        turn("user", video(clips[1]), text("and here?")),
    ]
    rendered = processor.apply_chat_template(conversation, add_generation_prompt=True)
    # the reference's conv_gemma: sep "" after a user turn, sep2 "<eos>" after every model turn
    assert rendered == (
        "<bos><start_of_turn>user\n<video>\nwhich ball went into a pocket?<end_of_turn>\n"
        "<start_of_turn>model\nthe red 3.<end_of_turn>\n<eos>"
        "<start_of_turn>user\nhow many cushions?<end_of_turn>\n"
        "<start_of_turn>model\ntwo<end_of_turn>\n<eos>"
        "<start_of_turn>user\n<video>\nand here?<end_of_turn>\n<start_of_turn>model\n"
    )
    gemma = processor.apply_chat_template(conversation, add_generation_prompt=True, chat_template="gemma")
    assert gemma == rendered.replace("<eos>", "")  # Gemma's own format, the option
    out = processor.apply_chat_template(conversation, add_generation_prompt=True, **PT, return_metadata=True)
    assert out["pixel_values_videos"].shape[0] == 2 and (out["input_ids"] == processor.video_token_id).sum() == 16
    assert [m["source"] for m in out["video_metadata"]] == clips[:2]


def test_assistant_mask_covers_exactly_the_answers_and_their_end_markers(processor, clips):
    conversation = [turn("user", video(clips[0]), text("which ball?")), turn("assistant", text("the red 3.")),
                    turn("user", text("how many cushions?")), turn("assistant", text("two"))]  # fmt: skip
    out = processor.apply_chat_template(conversation, **PT, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"][0].tolist(), out["assistant_masks"][0].tolist()
    assert tokens(processor, ids, mask) == ["the", "red", "3", ".", "<end_of_turn>", "<eos>",
                                            "two", "<end_of_turn>", "<eos>"]  # fmt: skip
    assert tokens(processor, ids)[-3:] == ["two", "<end_of_turn>", "<eos>"]
    gemma = processor.apply_chat_template(conversation, **PT, return_assistant_tokens_mask=True,
                                          chat_template="gemma")  # fmt: skip
    ids, mask = gemma["input_ids"][0].tolist(), gemma["assistant_masks"][0].tolist()
    assert tokens(processor, ids, mask) == ["the", "red", "3", ".", "<end_of_turn>", "two", "<end_of_turn>"]


def test_assistant_mask_with_a_tokenizer_that_keeps_newlines(clips):
    """With a tokenizer where "\\n" is a token (as in Gemma's), the learned span is
    `answer<end_of_turn>\\n<eos>`, newline included, and nothing of the next user turn."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>",
                                         "<video>", "\n", "user", "model", "hi", "yes", "no"])}  # fmt: skip
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex("\\n"), behavior="isolated"),
                                                     pre_tokenizers.Split(" ", behavior="removed")])  # fmt: skip
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                                  unk_token="<unk>", extra_special_tokens={"video_token": "<video>"})  # fmt: skip
    tok.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>", "<video>"]})
    processor = HiLightProcessor(HiLightVideoProcessor(size=16, num_frames=2), tok, queries_per_frame=1)
    conversation = [turn("user", video(clips[0]), text("hi")), turn("assistant", text("yes")),
                    turn("user", text("hi")), turn("assistant", text("no"))]  # fmt: skip
    out = processor.apply_chat_template(conversation, **PT, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"][0].tolist(), out["assistant_masks"][0].tolist()
    assert tok.convert_ids_to_tokens(ids) == [
        "<bos>", "<start_of_turn>", "user", "\n", "<video>", "<video>", "\n", "hi", "<end_of_turn>", "\n",
        "<start_of_turn>", "model", "\n", "yes", "<end_of_turn>", "\n", "<eos>",
        "<start_of_turn>", "user", "\n", "hi", "<end_of_turn>", "\n",
        "<start_of_turn>", "model", "\n", "no", "<end_of_turn>", "\n", "<eos>",
    ]  # fmt: skip
    assert tokens(processor, ids, mask) == ["yes", "<end_of_turn>", "\n", "<eos>", "no", "<end_of_turn>", "\n", "<eos>"]


@pytest.mark.parametrize("call, frames, keyframes", [({}, 12, None), ({"num_frames": 8}, 8, None),
                                                     ({"num_keyframes": 3}, 12, 3),
                                                     ({"num_frames": 6, "num_keyframes": 2}, 6, 2)])  # fmt: skip
def test_per_call_frame_counts_set_the_placeholders_the_model_gets(clips, call, frames, keyframes):
    from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration

    tokenizer = build_hilight_tokenizer(WORDS)
    processor = HiLightProcessor(HiLightVideoProcessor(size=32, num_frames=12), tokenizer, queries_per_frame=4)
    torch.manual_seed(0)
    model = HiLightForConditionalGeneration(HiLightConfig.tiny(video_token_id=processor.video_token_id,
                                                               text_config={"vocab_size": len(tokenizer)})).eval()
    tokens_per_video = (keyframes or frames) * 4
    conversation = [turn("user", video(clips[0]), text("which ball?"))]
    for inputs in (processor(text="<video> which ball ?", videos=clips[:1], **call),
                   processor.apply_chat_template(conversation, add_generation_prompt=True, **PT, **call)):
        assert inputs["pixel_values_videos"].shape[:2] == (1, frames)
        assert ("pixel_values_keyframes" in inputs) == (keyframes is not None)
        if keyframes:
            assert inputs["pixel_values_keyframes"].shape[:2] == (1, keyframes)
        assert (inputs["input_ids"] == processor.video_token_id).sum() == tokens_per_video
        with torch.no_grad():
            out = model(**inputs)  # the model's own count check passes: the counts agree
        assert out.logits.shape == (1, inputs["input_ids"].shape[1], len(tokenizer))


def test_padding_sides_and_mixed_text_only_batch(processor, clips):
    batch = [[turn("user", video(clips[0]), text("which ball?"))], [turn("user", text("how many cushions?"))]]
    left = processor.apply_chat_template(batch, add_generation_prompt=True, **PT, padding_side="left")
    right = processor.apply_chat_template(batch, add_generation_prompt=True, **PT, padding_side="right")
    assert left["pixel_values_videos"].shape[0] == 1  # the text-only sample adds no video
    assert left["attention_mask"][1, 0] == 0 and left["attention_mask"][1, -1] == 1
    assert right["attention_mask"][1, 0] == 1 and right["attention_mask"][1, -1] == 0
    n = int(left["attention_mask"][1].sum())
    assert torch.equal(left["input_ids"][1, -n:], right["input_ids"][1, :n])


def test_truncation_never_cuts_a_video_span(processor, clips):
    prompt = "which ball ? <video> went into a pocket"
    with pytest.raises(ValueError, match=r"sample 0 has 15 tokens and max_length=8 would cut a video span .* "
                                         r"Raise max_length to at least 11"):
        processor(text=prompt, videos=clips[:1], truncation=True, max_length=8)
    out = processor(text=prompt, videos=clips[:1], truncation=True, max_length=12)  # cuts text only
    assert out["input_ids"].shape[1] == 12 and (out["input_ids"] == processor.video_token_id).sum() == 8


def test_apply_chat_template_honours_transformers_standard_arguments(processor, clips):
    conversation = [turn("user", video(clips[0]), text("which ball?")), turn("assistant", text("the red 3."))]
    # a custom template, rendered and tokenized (the placeholder still expands to the video's tokens)
    custom = "{% for m in messages %}{% for b in m['content'] %}{% if b['type'] == 'video' %}<video>{% else %}" \
             "{{ b['text'] }} {% endif %}{% endfor %}{% endfor %}"
    assert processor.apply_chat_template(conversation, chat_template=custom) == "<video>which ball? the red 3. "
    out = processor.apply_chat_template(conversation, chat_template=custom, tokenize=True, return_tensors="pt")
    assert tokens(processor, out["input_ids"][0].tolist()) == ["<video>"] * 8 + ["which", "ball", "?", "the", "red",
                                                                                "3", "."]  # fmt: skip
    # tools: refused by HiLight's template, passed to a template that renders them
    with pytest.raises(ValueError, match="does not use `tools`"):
        processor.apply_chat_template(conversation, tools=[{"name": "count_balls"}], tokenize=True, return_tensors="pt")
    with_tools = "{% for t in tools %}{{ t['name'] }} {% endfor %}" + custom
    assert processor.apply_chat_template(conversation, chat_template=with_tools,
                                         tools=[{"name": "two"}]).startswith("two <video>")  # fmt: skip
    # continue_final_message: the last answer stays open, without its end markers
    open_answer = conversation[:1] + [turn("assistant", text("the red"))]
    assert processor.apply_chat_template(open_answer, continue_final_message=True).endswith("<start_of_turn>model\nthe red")
    # processor_kwargs reach the processor and the video processor; return_dict=False gives the ids
    out = processor.apply_chat_template([conversation, conversation[:1]], **PT, return_dict=True,
                                        processor_kwargs={"padding_side": "left", "num_frames": 2})  # fmt: skip
    assert out["pixel_values_videos"].shape[:2] == (2, 2) and out["attention_mask"][1, 0] == 0
    ids = processor.apply_chat_template(conversation, tokenize=True, return_tensors="pt", return_dict=False)
    assert torch.equal(ids, processor.apply_chat_template(conversation, **PT)["input_ids"])
    # videos already decoded, in the blocks themselves
    frames = np.full((6, 20, 20, 3), 100, np.uint8)
    decoded = processor.apply_chat_template([turn("user", {"type": "video", "video": frames}, text("which ball?"))],
                                            tokenize=True, return_tensors="pt")  # fmt: skip
    assert decoded["pixel_values_videos"].shape == (1, 4, 3, 16, 16)
    for bad, message in (({"load_audio_from_video": True}, "takes no audio"),
                         ({"sanitize_control_tokens": True}, "sanitize_control_tokens")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            processor.apply_chat_template(conversation, tokenize=True, return_tensors="pt", **bad)


def test_the_call_trls_vision_collator_makes(processor, clips):
    """DataCollatorForVisionLanguageModeling._collate_language_modeling (TRL 1.16), word for word."""
    batch = [[turn("user", video(clips[0]), text("which ball?")), turn("assistant", text("the red 3."))],
             [turn("user", text("how many cushions?")), turn("assistant", text("two")),
              turn("user", video(clips[1]), video(clips[2]), text("and here?")), turn("assistant", text("two"))]]
    kwargs = {"padding": True, "padding_side": "right", "pad_to_multiple_of": None, "truncation": False,
              "max_length": None, "add_special_tokens": False}  # fmt: skip
    out = processor.apply_chat_template(batch, chat_template=None, tokenize=True, return_dict=True, return_tensors="pt",
                                        return_assistant_tokens_mask=True, processor_kwargs=kwargs)  # fmt: skip
    assert out["pixel_values_videos"].shape == (3, 4, 3, 16, 16)
    assert out["assistant_masks"].shape == out["input_ids"].shape and out["assistant_masks"].dtype == torch.long
    first, second = (tokens(processor, out["input_ids"][i].tolist(), out["assistant_masks"][i].tolist()) for i in (0, 1))
    assert first == ["the", "red", "3", ".", "<end_of_turn>", "<eos>"]
    assert second == ["two", "<end_of_turn>", "<eos>"] * 2  # after two 8-token video spans, still aligned
    assert tokens(processor, out["input_ids"][1].tolist()).count("<video>") == 16
    # SFTTrainer's own check that the end of a model turn is learned (it reads lists, transformers' default)
    from trl.chat_template_utils import is_chat_template_stop_token_trained

    assert is_chat_template_stop_token_trained(processor)
    assert isinstance(processor.apply_chat_template(batch[0], tokenize=True)["input_ids"][0], list)


def test_auto_processor_round_trip(processor, clips, tmp_path):
    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is HiLightProcessor and loaded.num_video_tokens == 8
    assert loaded.chat_template == processor.chat_template and set(loaded.chat_template) == {"default", "gemma"}
    conversation = [turn("user", video(clips[0]), text("which ball?")), turn("assistant", text("the red 3."))]
    a = processor.apply_chat_template(conversation, **PT, return_assistant_tokens_mask=True)
    b = loaded.apply_chat_template(conversation, tokenize=True, return_tensors="pt", return_assistant_tokens_mask=True)
    for key in ("input_ids", "attention_mask", "assistant_masks", "pixel_values_videos"):
        assert torch.equal(a[key], b[key]), key


def test_processor_loads_with_remote_code_in_a_fresh_process(processor, clips, tmp_path):
    processor.save_pretrained(tmp_path / "proc")
    conversation = [turn("user", video(clips[0]), text("which ball?")), turn("assistant", text("the red 3."))]
    expected = processor.apply_chat_template(conversation, **PT, return_assistant_tokens_mask=True)
    script = f"""
        import torch
        from safetensors.torch import save_file
        from transformers import AutoProcessor
        p = AutoProcessor.from_pretrained("proc", trust_remote_code=True)
        assert type(p).__module__.startswith("transformers_modules"), type(p).__module__
        conv = [{{"role": "user", "content": [{{"type": "video", "path": {clips[0]!r}}}, {{"type": "text", "text": "which ball?"}}]}},
                {{"role": "assistant", "content": [{{"type": "text", "text": "the red 3."}}]}}]
        out = p.apply_chat_template(conv, tokenize=True, return_tensors="pt", return_assistant_tokens_mask=True)
        save_file({{k: out[k].contiguous() for k in ("input_ids", "assistant_masks", "pixel_values_videos")}}, "out.safetensors")
    """
    run_without_package(script, tmp_path)
    from safetensors.torch import load_file

    got = load_file(tmp_path / "out.safetensors")
    for key in got:
        assert torch.equal(got[key], expected[key]), key
