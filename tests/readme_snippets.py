"""The README's code blocks, so that tests run them exactly as written: a named snippet (the
```python block after `<!-- snippet: NAME -->`) or every python block of a section."""

import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of the README section that starts with the line `heading`, in order
    (up to the next heading of the same or a higher level)."""
    return code_blocks(heading, "python")


def code_blocks(heading: str, language: str) -> list[str]:
    """The ```LANGUAGE blocks of the README section that starts with the line `heading`."""
    level = len(heading.split(" ")[0])
    blocks, inside, fence, current = [], False, None, []
    for line in README.read_text().splitlines():
        if fence is None and line.startswith("#"):
            hashes = len(line.split(" ")[0])
            if line == heading:
                inside = True
                continue
            if inside and set(line.split(" ")[0]) == {"#"} and hashes <= level:
                break
        if not inside:
            continue
        if line.startswith("```"):
            if fence is None:
                fence, current = line[3:].strip(), []
            else:
                if fence == language:
                    blocks.append("\n".join(current) + "\n")
                fence = None
        elif fence is not None:
            current.append(line)
    if not blocks:
        raise AssertionError(f"README section {heading!r} has no {language} block")
    return blocks



def snippet(name: str, language: str = "python") -> str:
    match = re.search(rf"<!-- snippet: {re.escape(name)} -->\s*```{language}\n(.*?)```", README.read_text(), re.S)
    if match is None:
        raise AssertionError(f"README.md has no {language} block after <!-- snippet: {name} -->")
    return match.group(1)


def command_lines(name: str) -> list[list[str]]:
    """The commands of a ```bash snippet, each split as the shell would (comments dropped)."""
    import shlex

    return [shlex.split(line, comments=True) for line in snippet(name, "bash").splitlines() if line.strip()]


def run_snippet(name: str, folder) -> dict:
    """Execute the snippet in `folder` (its relative paths start there); returns its namespace."""
    namespace, cwd = {"__name__": f"readme_{name}"}, os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(snippet(name), f"README.md:{name}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace
