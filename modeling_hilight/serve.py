"""`hilight serve [--model M] [--encoder E] [--host 127.0.0.1] [--port 7860]`: a web demo (Gradio).

Pick a sample clip (a few billiards shots rendered at start-up) or upload a video, then chat
about it over several turns with streamed answers; the page shows the sampled keyframes and, for
each question, the similarity maps of its words (`hilight visualize`). Needs the optional extra:
`pip install "hilight[demo]"`. Gradio is imported here only; the rest of the package never needs it.

The model loads once, at start-up. Requests queue and run one at a time (Gradio's queue with one
worker), so concurrent users wait their turn instead of loading another copy. An upload that is
too large, too long, not a video or broken gets a clear message in the page, and only that user's
state changes. `DemoBackend` holds everything the page does and is usable without Gradio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
from pathlib import Path

SAMPLE_SEED = 2_000_000_000  # the sample clips' seeds: fixed, beyond every seed `hilight data` and `demo` use


class UploadError(ValueError):
    """A video the demo cannot take; the message is what the page shows."""


def human_size(count: float) -> str:
    """1536 -> "1.5 KB"."""
    for unit in ("bytes", "KB", "MB"):
        if count < 1024 or unit == "MB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}".replace(".0 ", " ")
        count /= 1024
    return ""


def refusal(name: str, path, error) -> UploadError:
    """The page's message for a VideoDecodeError, naming the file as the user knows it, not the server's copy."""
    return UploadError(f"{name} cannot be used: {error.reason.replace(str(path), name)}")


class DemoBackend:
    """The model (loaded once), the sample clips, and what each page action does. Per-user state is
    a plain dict (`open_video` returns it) that the page keeps for each browser session."""

    def __init__(self, model: str | None = None, encoder: str | None = None, *, max_upload_mb: float = 100,
                 max_seconds: float = 300, max_new_tokens: int = 64, samples: int = 3):  # fmt: skip
        from .bundled import BUNDLED, bundled_folder, load_model, model_type_of
        from .demo import clip_settings
        from .evaluation import encoder_for

        self.folder = Path(model) if model else bundled_folder("hilight")
        if model_type_of(self.folder) != "hilight":
            raise ValueError(f"{self.folder}: hilight serve needs a HiLight checkpoint; this one is a CLIP-ViP+ encoder.")
        if encoder is None and model is None and (BUNDLED["clip_vip_plus"] / "config.json").is_file():
            encoder = str(BUNDLED["clip_vip_plus"])
        self.model, self.processor = load_model(self.folder)
        self.clip_model = self.clip_processor = None
        self.notes: list[str] = []
        if encoder is not None:
            self.clip_model, self.clip_processor, _ = encoder_for(self.model, encoder)
        else:
            self.notes.append("No similarity maps: they need a CLIP-ViP+ text tower (start with --encoder FOLDER).")
        self.max_bytes, self.max_seconds = int(max_upload_mb * 2**20), max_seconds
        self.max_new_tokens = max_new_tokens
        self.scratch = Path(tempfile.mkdtemp(prefix="hilight-serve-"))
        self.samples = self.render_samples(samples, clip_settings(self.folder))
        self.lock = threading.Lock()  # the model runs one request at a time, whatever the server does

    def render_samples(self, count: int, settings: dict) -> list[Path]:
        from .training.billiards import make_clip

        (self.scratch / "clips").mkdir(parents=True, exist_ok=True)
        return [self.scratch / make_clip("sample", k, SAMPLE_SEED + k, str(self.scratch), settings)["video"]
                for k in range(count)]  # fmt: skip

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- one user's actions -----------------------------------------------------------------------

    def check_upload(self, path: str | os.PathLike, name: str | None = None):
        """The video's metadata, or an UploadError saying why the file cannot be used."""
        from .processing import VideoDecodeError, probe_video

        name = name or Path(path).name
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        if size > self.max_bytes:
            raise UploadError(f"{name} is too large ({human_size(size)}); this demo takes videos up to "
                              f"{human_size(self.max_bytes)}.")  # fmt: skip
        try:
            meta = probe_video(path)
        except VideoDecodeError as error:
            raise refusal(name, path, error) from error
        if meta.duration is not None and meta.duration > self.max_seconds:
            raise UploadError(f"{name} is too long ({meta.duration:.1f} s); this demo takes videos up to "
                              f"{self.max_seconds:g} s.")  # fmt: skip
        return meta

    def open_video(self, path: str | os.PathLike, name: str | None = None) -> tuple[dict, str, list]:
        """(state, status text, keyframes as (image, caption)) for a new clip; raises UploadError."""
        from .chat import ChatSession
        from .processing import VideoDecodeError, decode_video

        name = name or Path(path).name
        meta = self.check_upload(path, name)
        try:
            pixels = self.processor.video_processor(str(path), return_metadata=True)
            frames, _, _ = decode_video(str(path), None, "indices", indices=pixels["video_metadata"][0]["frames_indices"])
            with self.lock:
                session = ChatSession(self.model, self.processor, str(path), self.max_new_tokens, pixels=pixels)
        except VideoDecodeError as error:
            raise refusal(name, path, error) from error
        stamps = pixels["video_metadata"][0]["timestamps"] or [None] * len(frames)
        keyframes = [(frame, f"frame {i}" + (f", {t:.2f} s" if t is not None else ""))
                     for frame, i, t in zip(frames, pixels["video_metadata"][0]["frames_indices"], stamps)]  # fmt: skip
        length = f"{meta.duration:.1f} s, " if meta.duration else ""
        status = (f"Ready: **{name}** ({length}{meta.width}x{meta.height}); the model sees {len(frames)} frames. "
                  f"Ask a question.")  # fmt: skip
        return {"video": str(path), "name": name, "session": session}, status, keyframes

    def ask(self, state: dict, question: str):
        """Yields the answer as it grows, token by token; the last value is the whole answer."""
        from transformers import TextIteratorStreamer

        session = state["session"]
        streamer = TextIteratorStreamer(self.processor.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=600)  # fmt: skip
        outcome: dict = {}

        def generate():
            try:
                with self.lock:
                    outcome["answer"] = session.ask(question, streamer)
            except Exception as error:  # shown to this user; the server goes on
                outcome["error"] = error
            finally:
                streamer.on_finalized_text("", stream_end=True)  # a second end mark is harmless

        worker = threading.Thread(target=generate, daemon=True)
        worker.start()
        text = ""
        for piece in streamer:
            text += piece
            if text.strip():
                yield text.strip()
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        yield outcome["answer"]

    def similarity_gif(self, state: dict, question: str) -> tuple[str | None, str]:
        """(path of the GIF of the question's words, a note) or (None, why not)."""
        from .visualize import similarity_maps

        if self.clip_model is None:
            return None, self.notes[0]
        try:
            with self.lock:
                maps = similarity_maps(self.clip_model, self.clip_processor, state["video"], question)
        except ValueError as error:  # no word the language mask keeps
            return None, f"No similarity maps: {error}"
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        note = f"Similarity maps of: {', '.join(maps.words)}."
        if maps.skipped:
            note += f" Not mapped (unknown to the text tower): {', '.join(maps.skipped)}."
        return str(maps.save_gif(folder / "similarity.gif", columns=3, width=240)), note


def build_app(backend: DemoBackend):
    """The Gradio page over `backend`."""
    import gradio as gr

    def opened(path, name):
        try:
            state, status, keyframes = backend.open_video(path, name)
        except UploadError as error:
            return None, f"**Upload refused.** {error}", [], None, [], None
        return state, status, keyframes, state["video"], [], None

    def on_upload(file):
        if file is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return opened(file, Path(file).name)

    def on_ask(question, history, state):
        question = (question or "").strip()
        if not state:
            yield history, "Pick a sample clip or upload a video first.", gr.skip(), question
            return
        if not question:
            yield history, "Type a question first.", gr.skip(), ""
            return
        history = [*history, {"role": "user", "content": question}, {"role": "assistant", "content": ""}]
        try:
            for text in backend.ask(state, question):
                history[-1] = {"role": "assistant", "content": text}
                yield history, "Answering...", gr.skip(), ""
        except Exception as error:  # noqa: BLE001  (shown in the page; the server goes on)
            yield history[:-1], f"**The model failed on this question:** {error}", gr.skip(), question
            return
        yield history, "Drawing the similarity maps of the question's words...", gr.skip(), ""
        gif, note = backend.similarity_gif(state, question)
        yield history, f"Answered. {note}", gif, ""

    with gr.Blocks(title="HiLight demo", analytics_enabled=False) as app:
        gr.Markdown("# HiLight: ask about a billiards clip\nPick a sample clip or upload a video, then ask questions "
                    "about it. The answers stream in; below are the frames the model sees and, for each question, "
                    "where its words land in them (CLIP-ViP+ similarity maps).")  # fmt: skip
        state = gr.State(None, time_to_live=3600)  # a user's clip and conversation, dropped after an idle hour
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label="Upload a video", elem_id="upload", height=110)
                with gr.Row():
                    buttons = [gr.Button(f"Sample clip {k + 1}", elem_id=f"sample-{k}", size="sm")
                               for k in range(len(backend.samples))]  # fmt: skip
                status = gr.Markdown("Pick a sample clip or upload a video.", elem_id="status")
                player = gr.Video(label="The clip", interactive=False, elem_id="player", height=220)
            with gr.Column(scale=1):
                chat = gr.Chatbot(label="Chat", elem_id="chat", height=380)
                with gr.Row():
                    question = gr.Textbox(placeholder="Which ball went into a pocket?", show_label=False, scale=4,
                                          elem_id="question", submit_btn=False)  # fmt: skip
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        with gr.Row():
            keyframes = gr.Gallery(label="Frames the model sees", columns=6, height=300, elem_id="keyframes")
            maps = gr.Image(label="Similarity maps of the question's words", type="filepath", elem_id="maps",
                            interactive=False, height=300)  # fmt: skip
        outputs = [state, status, keyframes, player, chat, maps]
        one_queue = {"concurrency_id": "model", "concurrency_limit": 1}  # every event waits for the one model
        upload.change(on_upload, [upload], outputs, api_name="upload", **one_queue)
        for k, button in enumerate(buttons):
            sample = backend.samples[k]
            button.click(lambda s=sample, k=k: opened(s, f"sample clip {k + 1}"), None, outputs,
                         api_name=f"sample_{k + 1}", **one_queue)  # fmt: skip
        ask_inputs, ask_outputs = [question, chat, state], [chat, status, maps, question]
        ask.click(on_ask, ask_inputs, ask_outputs, api_name="ask", **one_queue)
        question.submit(on_ask, ask_inputs, ask_outputs, api_name=False, **one_queue)
    app.queue(default_concurrency_limit=1, max_size=64)
    return app


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="a HiLight checkpoint folder (default: the bundled model)")
    parser.add_argument("--encoder", help="a CLIP-ViP+ folder for the similarity maps (default: the bundled encoder "
                                          "with the bundled model; none with --model)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: 7860)")
    parser.add_argument("--max-upload-mb", type=float, default=100, help="largest upload taken (MB)")
    parser.add_argument("--max-seconds", type=float, default=300, help="longest video taken (seconds)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--samples", type=int, default=3, help="sample clips rendered at start-up (0: none)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def run(args: argparse.Namespace) -> int:
    from .cli import quiet_libraries, report_error

    quiet_libraries()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    try:
        import gradio  # noqa: F401
    except ImportError:
        return report_error("serve", ImportError('Gradio is not installed: pip install "hilight[demo]"'), args.debug)
    backend = None
    try:
        backend = DemoBackend(args.model, args.encoder, max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds,
                              max_new_tokens=args.max_new_tokens, samples=args.samples)  # fmt: skip
        app = build_app(backend)
        print(f"HiLight demo on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
        app.launch(server_name=args.host, server_port=args.port, max_file_size=backend.max_bytes * 2,
                   ssr_mode=False, quiet=True, show_error=False)  # fmt: skip
    except KeyboardInterrupt:
        return 0
    except Exception as error:  # one line on stderr, the traceback with --debug
        return report_error("serve", error, args.debug)
    finally:
        if backend is not None:
            backend.close()
    return 0


__all__ = ["DemoBackend", "UploadError", "build_app"]
