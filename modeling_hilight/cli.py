"""The `hilight` command line.

Each sub-command lives in its own module, which provides `add_arguments(parser)` and
`run(args) -> int`; this file only dispatches, so a sub-command's imports (torch, av, trl) are
paid only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("modeling_hilight.demo", "the bundled model answers questions about fresh clips (--train: train it)"),
    "chat": ("modeling_hilight.chat", "ask a model about a video (streams; interactive without a question)"),
    "eval": ("modeling_hilight.evaluation", "measure a model: QA against blind and majority baselines, retrieval, grounding"),
    "visualize": ("modeling_hilight.visualize", "heat maps of where each word of a text lands in a video's frames"),
    "serve": ("modeling_hilight.serve", "a web demo (Gradio, `pip install hilight[demo]`): chat about a clip, see the maps"),
    "data": ("modeling_hilight.training.billiards.cli", "make a synthetic billiards data set"),
    "train": ("modeling_hilight.training.train", "train a stage from a YAML recipe"),
    "merge-lora": ("modeling_hilight.training.merge", "merge a LoRA adapter into a checkpoint"),
    "convert": ("modeling_hilight.convert", "convert published checkpoints to this package's format"),
}


def quiet_library_bars() -> None:
    """No progress bars from datasets (Map, saving), huggingface_hub and transformers (loading and
    writing weights): every command shows its own bars, a training stage one bar."""
    import os

    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"  # read when datasets is imported
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
    disable_progress_bars()
    hf_logging.disable_progress_bar()


def quiet_libraries() -> None:
    """For the commands that talk to a user (chat, eval, demo): no library warnings or info logs either."""
    import warnings

    from transformers.utils import logging as hf_logging

    warnings.filterwarnings("ignore", message=".*past_key_values.*cache.*", category=FutureWarning)
    hf_logging.set_verbosity_error()


def report_error(command: str, error: BaseException, debug: bool = False) -> int:
    """One line on stderr (`hilight COMMAND: message`) and exit code 1; the traceback with `debug`."""
    if debug:
        raise error
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"hilight {command}: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="hilight", description="HiLight video chat model tools")
    sub = parser.add_subparsers(dest="command", required=True)
    if argv and argv[0] in COMMANDS:  # import only the module that will run
        names = [argv[0]]
    else:
        names = list(COMMANDS)
    modules = {}
    for name in names:
        module_name, help_text = COMMANDS[name]
        sp = sub.add_parser(name, help=help_text)
        if len(names) == 1:
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(sp)
    args = parser.parse_args(argv)
    quiet_library_bars()
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
