"""`hilight chat`: streamed answers, an interactive session that keeps its history and encodes the
video once, and one clear line for every bad video (the CLI run in a subprocess with a timeout)."""

import os
import shutil
import subprocess
import sys

import av
import pytest
import torch
from eval_fixtures import billiards, tiny_checkpoints
from transformers import TextStreamer
from video_fixtures import write_video

from modeling_hilight.bundled import load_model
from modeling_hilight.chat import ChatSession
from modeling_hilight.cli import main
from modeling_hilight.evaluation import answer_settings
from modeling_hilight.training.billiards import load_billiards

TOKENS = "6"
QUESTIONS = ["Which ball was pocketed?", "Was the cue ball pocketed?", "How many object balls are left on the table?"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat")
    data = billiards(root / "data", clips=12)
    hilight, encoder = tiny_checkpoints(root, data)
    folder = root / "mes vidéos ü 台球"
    folder.mkdir()
    video = folder / "partie 1 é.mp4"
    shutil.copy(load_billiards(data, "test")[0]["video"], video)
    return {"hilight": hilight, "encoder": encoder, "video": video, "root": root}


def cli(*args, stdin=None, timeout=300):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "modeling_hilight.cli", "chat", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=env)  # fmt: skip


def session(world):
    model, processor = load_model(world["hilight"])
    return ChatSession(model, processor, world["video"], max_new_tokens=int(TOKENS))


def test_one_question_prints_the_streamed_answer_and_nothing_else(world):
    expected = session(world).ask(QUESTIONS[0])
    result = cli(world["video"], QUESTIONS[0], "--model", world["hilight"], "--max-new-tokens", TOKENS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n" and expected
    assert result.stderr == ""  # no progress bars, warnings or logs


class Chunks(TextStreamer):
    def __init__(self, tokenizer):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.chunks = []

    def on_finalized_text(self, text, stream_end=False):
        self.chunks.append(text)


def test_answers_stream_in_pieces_that_make_the_answer(world):
    chat = session(world)
    streamer = Chunks(chat.processor.tokenizer)
    answer = chat.ask(QUESTIONS[0], streamer)
    assert len([c for c in streamer.chunks if c.strip()]) >= 2  # word by word, not at the end
    assert "".join(streamer.chunks).strip() == answer


def test_session_keeps_history_encodes_the_video_once_and_reuses_the_cache(world):
    chat = session(world)
    towers, lengths = [], []
    chat.model.model.clip_vip.register_forward_hook(lambda *a: towers.append(1))
    chat.model.model.long_clip.register_forward_hook(lambda *a: towers.append(1))
    chat.model.model.language_model.register_forward_pre_hook(
        lambda module, args, kwargs: lengths.append(kwargs["inputs_embeds"].shape[1]), with_kwargs=True
    )
    answers = []
    for question in QUESTIONS:
        lengths.clear()
        answers.append(chat.ask(question))
        prompt = chat.prompt_ids_of(chat.messages[:-1])
        if len(answers) > 1:  # later turns run only their new tokens, never the video span again
            assert lengths[0] < len(prompt) - chat.processor.num_video_tokens, (lengths[0], len(prompt))
    assert towers == []  # the towers ran in __init__ only, before the hooks
    assert [m["role"] for m in chat.messages] == ["user", "assistant"] * 3
    # the last answer equals a from-scratch generate on the whole history with the video's pixels
    model, processor = chat.model, chat.processor
    inputs = processor(text=processor.apply_chat_template(chat.messages[:-1], add_generation_prompt=True),
                       videos=[str(world["video"])])  # fmt: skip
    inputs.pop("video_metadata", None)
    assert inputs["input_ids"][0].tolist() == chat.prompt_ids_of(chat.messages[:-1])
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=int(TOKENS), do_sample=False, **answer_settings(processor))
    assert processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip() == answers[-1]


def test_interactive_session_over_stdin(world):
    chat = session(world)
    expected = [chat.ask(q) for q in QUESTIONS]
    result = cli(world["video"], "--model", world["hilight"], "--max-new-tokens", TOKENS, stdin="\n".join(QUESTIONS) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected and result.stderr == ""


def audio_only(path):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(torch.zeros(1, 1024).numpy(), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(8):
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def bad_inputs(folder):
    """(file, reason at the end of the line) for each bad input of the issue."""
    weird = folder / "dossier ü 台球 x"
    weird.mkdir(exist_ok=True)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is not a video\n")
    (folder / "random.mp4").write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                                      dtype=torch.uint8).numpy().tobytes())  # fmt: skip
    data = write_video(folder / "full.mp4", frames=60).read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (weird / "texte é.mp4").write_text("not a video either")
    return [
        (folder / "missing.mp4", "no such file."),
        (folder / "empty.mp4", "the file is empty."),
        (folder / "notes.mp4", "not a readable video file ("),
        (folder / "random.mp4", "not a readable video file ("),
        (folder / "truncated.mp4", "not a readable video file ("),
        (audio_only(folder / "speech.mp4"), "has no video stream (streams: audio)."),
        (weird / "manque é.mp4", "no such file."),
        (weird / "texte é.mp4", "not a readable video file ("),
    ]


def test_every_bad_input_is_one_line_naming_the_file(world, tmp_path, capsys):
    for path, reason in bad_inputs(tmp_path):
        assert main(["chat", str(path), "What happened?", "--model", str(world["hilight"])]) == 1, path
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hilight chat: {path}: "), (path, captured.err)
        assert reason in lines[0], (reason, lines[0])
        assert captured.out == ""


def test_bad_input_in_a_real_process_and_the_debug_traceback(world, tmp_path):
    cases = dict((p.name, (p, r)) for p, r in bad_inputs(tmp_path))
    for name in ("texte é.mp4",):
        path, reason = cases[name]
        result = cli(path, "What happened?", "--model", world["hilight"])
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.splitlines() == [result.stderr.strip()] and reason in result.stderr
        assert result.stderr.startswith(f"hilight chat: {path}: ") and "Traceback" not in result.stderr
    debug = cli(cases["missing.mp4"][0], "What happened?", "--model", world["hilight"], "--debug")
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "VideoDecodeError" in debug.stderr and "no such file" in debug.stderr


def test_model_errors_are_one_line_too(world, capsys):
    assert main(["chat", str(world["video"]), "Hi?", "--model", str(world["encoder"])]) == 1
    assert capsys.readouterr().err == (f"hilight chat: {world['encoder']}: hilight chat needs a HiLight checkpoint; "
                                       "this one is a CLIP-ViP+ encoder.\n")  # fmt: skip
    missing = world["root"] / "no model"
    assert main(["chat", str(world["video"]), "Hi?", "--model", str(missing)]) == 1
    assert capsys.readouterr().err == f"hilight chat: {missing}: no such model folder.\n"
