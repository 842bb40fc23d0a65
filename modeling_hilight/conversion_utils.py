"""Reading published checkpoints safely and loading them strictly.

The reference HiLight code loads with `strict=False`, which hides missing weights. Every converter
in this package goes through `load_state_dict_strictly`: all keys are used and all shapes match,
or it stops with the full list of what is wrong.
"""

import os

import torch
from safetensors.torch import load_file
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says which and why."""


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A flat `{name: tensor}` from a `.safetensors` file or a pickled PyTorch checkpoint.

    Pickles are read with `torch.load(weights_only=True)`: tensors and plain containers only, never
    arbitrary code. A `{"state_dict": ...}` or `{"model": ...}` wrapper is unwrapped.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint file.")
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder; pass the checkpoint file inside it.")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: the file is empty.")
    if path.endswith(".safetensors"):
        try:
            return load_file(path)
        except Exception as error:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: not a readable safetensors file ({error}).") from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # the unpickler fails on foreign bytes with many error types
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {str(error).splitlines()[0]})."
        ) from error
    for wrapper in ("state_dict", "model", "module"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors, found {type(state).__name__}.")
    return state


def strip_prefixes(state_dict: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Remove any of `prefixes` (repeatedly, in any order) from the start of every key."""
    out = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in prefixes:
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
        out[key] = value
    return out


def load_state_dict_strictly(
    module: nn.Module,
    state_dict: dict[str, torch.Tensor],
    source: str,
    newly_initialised: tuple[str, ...] = (),
) -> None:
    """Copy `state_dict` into `module`; every key must be used and every shape must match.

    `newly_initialised` names the model keys that the checkpoint cannot have by design (new
    parameters); they keep their initial values. Any other missing key, any unexpected key and any
    shape mismatch stops the load before anything is copied, with a `CheckpointError` listing them
    all (shape mismatches with both shapes).
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict) - set(newly_initialised))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f"{key}: checkpoint {tuple(state_dict[key].shape)} vs model {tuple(expected[key].shape)}"
        for key in sorted(set(expected) & set(state_dict))
        if tuple(state_dict[key].shape) != tuple(expected[key].shape)
    ]
    if missing or unexpected or mismatched:
        lines = [f"{source} does not fit {type(module).__name__}:"]
        if mismatched:
            lines.append(f"  shape mismatches ({len(mismatched)}): " + "; ".join(mismatched))
        if missing:
            lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing))
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
        raise CheckpointError("\n".join(lines))
    # Everything was checked above; non-strict only to leave the newly initialised keys alone.
    module.load_state_dict(state_dict, strict=not newly_initialised)


__all__ = ["CheckpointError", "load_state_dict_strictly", "read_checkpoint", "strip_prefixes"]
