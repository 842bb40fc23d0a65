"""README snippets, run as written: a snippet is the ```python block after `<!-- snippet: NAME -->`."""

import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def snippet(name: str) -> str:
    match = re.search(rf"<!-- snippet: {re.escape(name)} -->\s*```python\n(.*?)```", README.read_text(), re.S)
    if match is None:
        raise AssertionError(f"README.md has no python block after <!-- snippet: {name} -->")
    return match.group(1)


def run_snippet(name: str, folder) -> dict:
    """Execute the snippet in `folder` (its relative paths start there); returns its namespace."""
    namespace, cwd = {"__name__": f"readme_{name}"}, os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(snippet(name), f"README.md:{name}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace
