"""transformers' pipelines on a saved HiLight folder: a video and a question give exactly what
`generate` gives on the processor's output."""

import importlib.util

import pytest
import torch
from hilight_fixtures import tiny_model
from readme_snippets import run_snippet
from transformers import AutoModelForMultimodalLM, pipeline
from video_fixtures import write_video

from modeling_hilight import HiLightForConditionalGeneration, HiLightProcessor, HiLightVideoProcessor
from modeling_hilight import build_hilight_tokenizer

QUESTION = "which ball went into a pocket ?"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe")
    tokenizer = build_hilight_tokenizer([QUESTION, "the red 3 went into the top left pocket ."])
    processor = HiLightProcessor(HiLightVideoProcessor(size=32, num_frames=12), tokenizer, queries_per_frame=4)
    model = tiny_model(seed=4, text_config=dict(vocab_size=len(tokenizer), initializer_range=0.2),
                       video_token_id=processor.video_token_id)  # fmt: skip
    model.save_pretrained(root / "hilight-chat")
    processor.save_pretrained(root / "hilight-chat")
    write_video(root / "clip.mp4", frames=20)
    write_video(root / "other.mp4", frames=40, width=48)
    return root


def chat(path):
    return [{"role": "user", "content": [{"type": "video", "path": str(path)}, {"type": "text", "text": QUESTION}]}]


def by_generate(folder, video, new_tokens=8):
    model = HiLightForConditionalGeneration.from_pretrained(folder / "hilight-chat")
    processor = HiLightProcessor.from_pretrained(folder / "hilight-chat")
    inputs = processor.apply_chat_template(chat(video), add_generation_prompt=True, tokenize=True, return_dict=True)
    ids = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
    return ids[0], processor.tokenizer.decode(ids[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def check_pipeline(pipe, folder):
    for video in ("clip.mp4", "other.mp4"):
        want_ids, want_text = by_generate(folder, folder / video)
        ids = pipe(text=chat(folder / video), max_new_tokens=8, return_tensors=True)[0]["generated_token_ids"]
        assert torch.equal(torch.as_tensor(ids), want_ids), video
        text = pipe(text=chat(folder / video), max_new_tokens=8, return_full_text=False)[0]["generated_text"]
        assert text.strip() == want_text.strip() and want_text.strip(), (text, want_text)


def test_the_multimodal_lm_auto_class_loads_hilight(folder):
    assert type(AutoModelForMultimodalLM.from_pretrained(folder / "hilight-chat")) is HiLightForConditionalGeneration


def test_video_text_to_text_pipeline_answers_as_generate(folder):
    pipe = pipeline("video-text-to-text", model=str(folder / "hilight-chat"))
    assert type(pipe.model) is HiLightForConditionalGeneration and isinstance(pipe.processor, HiLightProcessor)
    check_pipeline(pipe, folder)


def test_image_text_to_text_pipeline_with_a_video_block_answers_as_generate(folder):
    check_pipeline(pipeline("image-text-to-text", model=str(folder / "hilight-chat")), folder)


def test_any_to_any_pipeline_answers_as_generate_or_names_torchvision(folder):
    if importlib.util.find_spec("torchvision") is None:  # this project's CPU machines: no torchvision build
        with pytest.raises(ImportError, match="AnyToAnyPipeline requires the Torchvision library"):
            pipeline("any-to-any", model=str(folder / "hilight-chat"))
    else:
        check_pipeline(pipeline("any-to-any", model=str(folder / "hilight-chat")), folder)


def test_readme_pipeline_snippet(folder):
    answer = run_snippet("pipeline", folder)["answer"]
    assert answer.strip() == by_generate(folder, folder / "clip.mp4")[1].strip()
