"""Every Auto class the package registers in-process also resolves through remote code from a saved
folder, in a fresh process where the package cannot be imported."""

import json

import torch
import transformers
from clip_vip_fixtures import tiny_config
from hilight_fixtures import frames, prompt, tiny_model
from remote_code_utils import run_without_package
from safetensors.torch import load_file, save_file
from transformers.models.auto import configuration_auto, modeling_auto, processing_auto, video_processing_auto

import modeling_hilight
from modeling_hilight import (
    CLIPViPPlusConfig,
    CLIPViPPlusModel,
    CLIPViPVisionConfig,
    HiLightConfig,
    HiLightProcessor,
    HiLightVideoProcessor,
    build_hilight_tokenizer,
)

OUR_CONFIGS = (HiLightConfig, CLIPViPPlusConfig, CLIPViPVisionConfig)


def registrations() -> dict[type, dict[str, str]]:
    """{config class: {Auto class name: the class it resolves to in this process}}, read off transformers'
    registries, so that a registration added later is covered without editing this test."""
    found = {config: {} for config in OUR_CONFIGS}
    for config in OUR_CONFIGS:
        if configuration_auto.CONFIG_MAPPING._extra_content.get(config.model_type) is config:
            found[config]["AutoConfig"] = config.__name__
    autos = [getattr(modeling_auto, n) for n in dir(modeling_auto) if n.startswith("AutoModel")]
    autos += [processing_auto.AutoProcessor, video_processing_auto.AutoVideoProcessor]
    for auto in autos:
        mapping = getattr(auto, "_model_mapping", None) or getattr(auto, "_processor_mapping", None)
        if mapping is None:
            mapping = {
                "AutoProcessor": processing_auto.PROCESSOR_MAPPING,
                "AutoVideoProcessor": video_processing_auto.VIDEO_PROCESSOR_MAPPING,
            }.get(auto.__name__)
        for config, target in getattr(mapping, "_extra_content", {}).items():
            if config in found:
                target = next(iter(target.values())) if isinstance(target, dict) else target  # video: per backend
                found[config][auto.__name__] = target.__name__
    return found


def test_the_registry_reader_sees_what_init_registers():
    found = registrations()
    assert found[HiLightConfig]["AutoModel"] == "HiLightModel"
    assert found[HiLightConfig]["AutoModelForImageTextToText"] == "HiLightForConditionalGeneration"
    assert found[HiLightConfig]["AutoModelForMultimodalLM"] == "HiLightForConditionalGeneration"  # any-to-any
    assert found[HiLightConfig]["AutoProcessor"] == "HiLightProcessor"
    assert found[HiLightConfig]["AutoVideoProcessor"] == "HiLightVideoProcessor"
    assert found[CLIPViPPlusConfig] == {"AutoConfig": "CLIPViPPlusConfig", "AutoModel": "CLIPViPPlusModel"}
    assert found[CLIPViPVisionConfig] == {"AutoConfig": "CLIPViPVisionConfig", "AutoModel": "CLIPViPVisionModel"}


def save_folders(tmp_path):
    hilight = tiny_model()
    processor = HiLightProcessor(HiLightVideoProcessor(size=32, num_frames=12),
                                 build_hilight_tokenizer(["which ball ?"]), queries_per_frame=4)  # fmt: skip
    for name, model in (("hilight", hilight), ("hilight_base", hilight.model)):
        model.save_pretrained(tmp_path / name)
        processor.save_pretrained(tmp_path / name)
    torch.manual_seed(0)
    plus = CLIPViPPlusModel(tiny_config())
    plus.save_pretrained(tmp_path / "clip_vip_plus")
    plus.vision_model.save_pretrained(tmp_path / "clip_vip_vision")
    return {"hilight": HiLightConfig, "hilight_base": HiLightConfig, "clip_vip_plus": CLIPViPPlusConfig,
            "clip_vip_vision": CLIPViPVisionConfig}, hilight  # fmt: skip


def test_every_registered_auto_class_resolves_through_remote_code(tmp_path):
    folders, hilight = save_folders(tmp_path)
    expected = {name: registrations()[config] for name, config in folders.items()}
    for name in folders:
        auto_map = json.loads((tmp_path / name / "config.json").read_text())["auto_map"]
        model_autos = {a for a in expected[name] if a.startswith("AutoModel") or a == "AutoConfig"}
        assert model_autos <= set(auto_map), (name, model_autos - set(auto_map))

    ids = prompt(hilight, [5, 6])
    save_file({"ids": ids, "videos": frames()}, tmp_path / "inputs.safetensors")
    run_without_package(
        f"""
        import json
        import transformers
        from safetensors.torch import load_file, save_file
        from transformers.models.auto.video_processing_auto import AutoVideoProcessor
        expected = {json.dumps(expected)}
        got = {{}}
        for folder, autos in expected.items():
            for auto_name in autos:
                auto = AutoVideoProcessor if auto_name == "AutoVideoProcessor" else getattr(transformers, auto_name)
                obj = auto.from_pretrained(folder, trust_remote_code=True)
                cls = obj if isinstance(obj, type) else type(obj)
                assert cls.__module__.startswith("transformers_modules"), (folder, auto_name, cls.__module__)
                got[f"{{folder}}:{{auto_name}}"] = cls.__name__
        x = load_file("inputs.safetensors")
        base = transformers.AutoModel.from_pretrained("hilight", trust_remote_code=True).eval()
        hidden = base(input_ids=x["ids"], pixel_values_videos=x["videos"]).last_hidden_state
        save_file({{"hidden": hidden.contiguous()}}, "outputs.safetensors")
        open("resolved.json", "w").write(json.dumps(got))
        """,
        tmp_path,
    )
    resolved = json.loads((tmp_path / "resolved.json").read_text())
    assert resolved == {f"{folder}:{auto}": cls for folder, autos in expected.items() for auto, cls in autos.items()}
    with torch.no_grad():
        hidden = hilight.model(input_ids=ids, pixel_values_videos=frames()).last_hidden_state
    torch.testing.assert_close(load_file(tmp_path / "outputs.safetensors")["hidden"], hidden, atol=0, rtol=0)


def test_auto_map_of_an_older_folder_is_completed_and_a_user_entry_kept(tmp_path):
    config = HiLightConfig.tiny(auto_map={"AutoConfig": "configuration_hilight.HiLightConfig",
                                          "AutoModelForCausalLM": "my_code.MyModel"})  # fmt: skip
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert saved["AutoModel"] == "modeling_hilight.HiLightModel"
    assert saved["AutoModelForCausalLM"] == "my_code.MyModel"
    assert modeling_hilight.HiLightConfig is HiLightConfig and transformers.AutoConfig.from_pretrained(tmp_path).auto_map == saved
