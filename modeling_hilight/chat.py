"""`hilight chat VIDEO ["question"] [--model FOLDER]`: ask a HiLight about a video.

With a question, the answer streams to stdout token by token and the command ends. Without one,
an interactive session reads questions from stdin, one a line, until end of input (or "exit"):
each answer streams as it is generated, the conversation carries over from turn to turn, and the
video is encoded once. The towers and token mining run a single time per session (the vision
tokens are kept and handed to `generate` as `mm_encoder_outputs`), and the key-value cache of the
conversation so far is kept, so a new turn only runs its own new tokens through the LLM.

A video that cannot be used gets one line on stderr naming the file and the reason, and exit
code 1; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


class ChatSession:
    """A conversation about one video: `ask(question)` returns the answer (streamed to `streamer`)."""

    def __init__(self, model, processor, video, max_new_tokens: int = 64, pixels=None):
        """`pixels`: `processor.video_processor(video)` if already done (a bad file raises VideoDecodeError there)."""
        from .evaluation import answer_settings

        self.model, self.processor, self.video = model, processor, video
        self.max_new_tokens = max_new_tokens
        self.settings = answer_settings(processor)
        pixels = pixels if pixels is not None else processor.video_processor(video)
        with torch.no_grad():
            self.vision = model.get_video_features(
                pixels["pixel_values_videos"].to(model.device, model.dtype),
                pixels["pixel_values_keyframes"].to(model.device, model.dtype) if "pixel_values_keyframes" in pixels else None,
            )  # fmt: skip
        self.messages: list[dict] = []
        self.cache = None
        self.cached_ids: list[int] = []  # the tokens whose keys and values `cache` holds

    def prompt_ids_of(self, messages: list[dict]) -> list[int]:
        """A conversation with the model's turn opened, as token ids (each <video> expanded): what
        the processor gives, without decoding the video again."""
        processor = self.processor
        text = processor.apply_chat_template(messages, add_generation_prompt=True)
        text = text.replace(processor.video_token, processor.video_token * processor.num_video_tokens)
        return processor.tokenizer(text, add_special_tokens=False)["input_ids"]

    @torch.no_grad()
    def ask(self, question: str, streamer=None) -> str:
        content = [{"type": "text", "text": question}]
        if not self.messages:
            content.insert(0, {"type": "video", "path": str(self.video)})
        self.messages.append({"role": "user", "content": content})
        ids = self.prompt_ids_of(self.messages)
        kwargs = {}
        reuse = self._common_prefix(ids)
        if reuse > self._video_end(ids):  # the video span is in the cache: only new text runs
            surplus = self.cache.get_seq_length() - reuse
            if surplus:
                self.cache.crop(-surplus)  # transformers 5 crops by the count of tokens to drop
            kwargs["cache"] = self.cache
        else:
            kwargs["mm_encoder_outputs"] = {"video": self.vision}
        input_ids = torch.tensor([ids], device=self.model.device)
        out = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), streamer=streamer,
                                  max_new_tokens=self.max_new_tokens, do_sample=False, return_dict_in_generate=True,
                                  **self.settings, **kwargs)  # fmt: skip
        sequence = out.sequences[0].tolist()
        self.cache = out.cache
        self.cached_ids = sequence[: self.cache.get_seq_length()]
        answer = self.processor.tokenizer.decode(sequence[len(ids) :], skip_special_tokens=True).strip()
        self.messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        return answer

    def _common_prefix(self, ids: list[int]) -> int:
        n = 0
        for a, b in zip(self.cached_ids, ids[:-1]):  # at least the last prompt token must run
            if a != b:
                break
            n += 1
        return n

    def _video_end(self, ids: list[int]) -> int:
        video = self.processor.video_token_id
        return max((i for i, t in enumerate(ids) if t == video), default=-1) + 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="a video file")
    parser.add_argument("question", nargs="?", help="the question; without it, an interactive session on stdin")
    parser.add_argument("--model", help="a HiLight checkpoint folder (default: the bundled model)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def run(args: argparse.Namespace) -> int:
    from .cli import quiet_libraries, report_error

    quiet_libraries()
    try:
        return chat(args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except Exception as error:  # one line on stderr, the traceback with --debug
        return report_error("chat", error, args.debug)


def chat(args: argparse.Namespace) -> int:
    from transformers import TextStreamer

    from .bundled import bundled_folder, load_model, load_processor, model_type_of

    folder = Path(args.model) if args.model else bundled_folder("hilight")
    if model_type_of(folder) != "hilight":
        raise ValueError(f"{folder}: hilight chat needs a HiLight checkpoint; this one is a CLIP-ViP+ encoder.")
    pixels = load_processor(folder).video_processor(args.video)  # a bad video fails before the weights load
    model, processor = load_model(folder)
    session = ChatSession(model, processor, args.video, args.max_new_tokens, pixels=pixels)
    streamer = TextStreamer(processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
    if args.question:
        session.ask(args.question, streamer)
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Ask about {args.video} (an empty line or Ctrl-D ends).", file=sys.stderr)
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line or (interactive and not line.strip()) or line.strip() in ("exit", "quit"):
            return 0
        if line.strip():
            session.ask(line.strip(), streamer)
            sys.stdout.flush()


__all__ = ["ChatSession"]
