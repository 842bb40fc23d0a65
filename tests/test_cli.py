"""The `hilight` dispatcher: the installed script, `python -m`, and the old module path."""

import subprocess
import sys
from pathlib import Path

from modeling_hilight.cli import COMMANDS

SCRIPT = Path(sys.executable).with_name("hilight")


def run(*command, timeout=120):
    return subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)


def test_installed_script_lists_every_sub_command():
    result = run(str(SCRIPT), "--help")
    assert result.returncode == 0, result.stderr
    for name in COMMANDS:
        assert name in result.stdout


def test_module_entry_points_dispatch_alike():
    new = run(sys.executable, "-m", "modeling_hilight.cli", "data", "--help")
    old = run(sys.executable, "-m", "modeling_hilight.training.cli", "data", "--help")
    assert new.returncode == old.returncode == 0, new.stderr + old.stderr
    assert "--num-clips" in new.stdout and new.stdout == old.stdout


def test_unknown_sub_command_is_an_argparse_error():
    result = run(sys.executable, "-m", "modeling_hilight.cli", "fly")
    assert result.returncode == 2 and "invalid choice: 'fly'" in result.stderr and "Traceback" not in result.stderr
