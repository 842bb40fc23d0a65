"""The alignment stage under torchrun with two CPU processes (gloo): both ranks end equal."""

import json
import os
import subprocess
import sys
from pathlib import Path

from training_fixtures import RECIPES, billiards


def test_two_process_alignment_ends_with_the_same_weights_on_both_ranks(tmp_path):
    data = billiards(tmp_path / "data", clips=6)
    out = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--nproc_per_node", "2", "-m", "modeling_hilight.cli", "train", "align",
               "--config", str(RECIPES / "align_tiny.yaml"), "--data", str(data), "--output_dir", str(out),
               "--max_steps", "4", "--fingerprint", "true", "--disable_tqdm", "true"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rank0 = json.loads((out / "fingerprint.rank0.json").read_text())
    rank1 = json.loads((out / "fingerprint.rank1.json").read_text())
    assert rank0 and set(rank0) == set(rank1) and all(k.startswith("model.token_mining.") for k in rank0)
    assert rank0 == rank1
    assert "align: loss" in result.stdout and (out / "model.safetensors").exists()
