"""Run a script in a fresh Python process in which `modeling_hilight` cannot be imported.

Used to prove that saved folders load through `trust_remote_code=True` with only the code files
that `save_pretrained` copied next to the weights.
"""

import os
import subprocess
import sys
import textwrap

BLOCK_PACKAGE = """
import sys
sys.modules["modeling_hilight"] = None  # any import of the package now raises ImportError
try:
    import modeling_hilight  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("modeling_hilight is still importable")
"""


def run_without_package(script: str, tmp_path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `script` in a fresh interpreter with the package blocked and a private modules cache."""
    env = dict(os.environ, HF_MODULES_CACHE=str(tmp_path / "hf_modules"), HF_HUB_OFFLINE="1")
    code = BLOCK_PACKAGE + textwrap.dedent(script)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout,
                            cwd=tmp_path)
    if result.returncode != 0:
        raise AssertionError(f"fresh process failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
