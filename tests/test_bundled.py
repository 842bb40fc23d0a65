"""The bundled models: `load_bundled()` / `load_bundled_encoder()` from the package folder, a clear
error without them, and loading from an installed wheel (not the source tree)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from eval_fixtures import billiards, tiny_checkpoints

import modeling_hilight
from modeling_hilight import bundled

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundled")
    return tiny_checkpoints(root, billiards(root / "data", clips=12))


def test_missing_bundled_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(bundled.BUNDLED, "hilight", tmp_path / "hilight")
    with pytest.raises(bundled.ModelLoadError) as error:
        modeling_hilight.load_bundled()
    assert str(error.value) == (f"{tmp_path / 'hilight'}: the bundled hilight model is not in this installation (no "
                                "config.json). Build it with `make bundled-model`, or pass a checkpoint folder with --model.")  # fmt: skip


def test_load_bundled_returns_model_and_processor(checkpoints, monkeypatch):
    hilight, encoder = checkpoints
    monkeypatch.setitem(bundled.BUNDLED, "hilight", hilight)
    monkeypatch.setitem(bundled.BUNDLED, "clip_vip_plus", encoder)
    model, processor = modeling_hilight.load_bundled()
    reference = modeling_hilight.HiLightForConditionalGeneration.from_pretrained(hilight)
    assert type(processor).__name__ == "HiLightProcessor" and not model.training
    for name, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)
    clip_model, clip_processor = modeling_hilight.load_bundled_encoder()
    assert type(clip_model).__name__ == "CLIPViPPlusModel" and clip_processor.video_processor.size == 32


@pytest.mark.parametrize("name", ["hilight", "clip_vip_plus"])
def test_the_bundled_checkpoints_code_is_the_packages(name):
    """The code a bundled checkpoint carries for trust_remote_code is written only when the model is built;
    a change to the package since then would leave the shipped copy behind (it once did)."""
    sources = {p.name: p for folder in ("modeling_hilight", "processing") for p in (ROOT / folder).glob("*.py")}
    copies = sorted((ROOT / "modeling_hilight" / "bundled" / name).glob("*.py"))
    assert copies, f"no code in the bundled {name}"
    stale = [c.name for c in copies if c.read_bytes() != sources[c.name].read_bytes()]
    assert not stale, f"bundled/{name} carries old copies of {stale}: copy the package's files over them"


@pytest.mark.skipif(not (bundled.BUNDLED["hilight"] / "config.json").is_file(), reason="no bundled model built yet")
def test_the_shipped_bundled_model_loads_within_the_size_budget():
    model, processor = modeling_hilight.load_bundled()
    assert type(model).__name__ == "HiLightForConditionalGeneration"
    sizes = sum(f.stat().st_size for f in bundled.BUNDLED_DIR.rglob("*") if f.is_file())
    assert sizes <= 25 * 2**20  # the budget for weights, processor files and model card


def source_copy(destination: Path) -> Path:
    """The files a fresh clone has (tracked and new, not ignored), without any bundled model."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()  # fmt: skip
    for name in listed:
        if (ROOT / name).is_file() and not name.startswith("modeling_hilight/bundled/"):
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def test_the_wheel_ships_the_bundled_model_and_loads_it_installed(checkpoints, tmp_path):
    hilight, encoder = checkpoints
    source = source_copy(tmp_path / "src")
    for name, folder in (("hilight", hilight), ("clip_vip_plus", encoder)):
        shutil.copytree(folder, source / "modeling_hilight" / "bundled" / name)
    (source / "modeling_hilight" / "bundled" / "hilight" / "README.md").write_text("# model card\n")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, timeout=300, capture_output=True)  # fmt: skip
    wheel = next((tmp_path / "dist").glob("hilight-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name, folder in (("hilight", hilight), ("clip_vip_plus", encoder)):
        files = {f.relative_to(folder).as_posix() for f in folder.rglob("*") if f.is_file()}
        assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json"} <= files
        assert "additional_chat_templates/gemma.jinja" in files
        assert {f"modeling_hilight/bundled/{name}/{f}" for f in files} <= names  # every file, sub-folders too
    assert "modeling_hilight/bundled/hilight/README.md" in names
    assert not any(n.endswith((".bin", ".pt", ".pth", ".pkl")) for n in names)  # safetensors only
    # installed (unpacked as pip does) into a folder of its own, imported from there, not from the source tree
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, timeout=300, capture_output=True)  # fmt: skip
    script = (
        "import modeling_hilight, torch\n"
        "model, processor = modeling_hilight.load_bundled()\n"
        "encoder, _ = modeling_hilight.load_bundled_encoder()\n"
        "print(modeling_hilight.__file__)\n"
        "print(type(model).__name__, type(encoder).__name__, sum(p.numel() for p in model.parameters()),\n"
        "      sorted(processor.chat_template))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    where, line = result.stdout.strip().splitlines()[-2:]
    assert where.startswith(str(tmp_path / "site"))
    expected = sum(p.numel() for p in modeling_hilight.HiLightForConditionalGeneration.from_pretrained(hilight).parameters())
    assert line == f"HiLightForConditionalGeneration CLIPViPPlusModel {expected} ['default', 'gemma']"
