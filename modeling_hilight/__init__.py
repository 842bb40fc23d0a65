"""HiLight: a video chat model (arXiv 2407.07325) as a transformers-compatible package.

Importing this package registers every HiLight class with the transformers Auto classes, so
`AutoConfig`, `AutoModel`, `AutoModelForImageTextToText`, `AutoModelForMultimodalLM` (what
`pipeline("any-to-any")` loads) and `AutoProcessor` resolve the `clip_vip_plus` and `hilight` model
types without `trust_remote_code`; it also adds the `pipeline("video-text-to-text")` task.
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoModelForMultimodalLM, AutoProcessor
from transformers.models.auto.video_processing_auto import AutoVideoProcessor  # the top-level one needs torchvision

from .bundled import load_bundled, load_bundled_encoder
from .configuration_clip_vip_plus import CLIPViPPlusConfig, CLIPViPVisionConfig
from .configuration_hilight import HiLightConfig
from .modeling_clip_vip_plus import CLIPViPPlusModel, CLIPViPVisionModel
from .modeling_hilight import HiLightForConditionalGeneration, HiLightModel
from .processing import HiLightProcessor, HiLightVideoProcessor, VideoDecodeError, build_hilight_tokenizer

AutoConfig.register(CLIPViPVisionConfig.model_type, CLIPViPVisionConfig, exist_ok=True)
AutoConfig.register(CLIPViPPlusConfig.model_type, CLIPViPPlusConfig, exist_ok=True)
AutoModel.register(CLIPViPVisionConfig, CLIPViPVisionModel, exist_ok=True)
AutoModel.register(CLIPViPPlusConfig, CLIPViPPlusModel, exist_ok=True)
AutoConfig.register(HiLightConfig.model_type, HiLightConfig, exist_ok=True)
AutoModel.register(HiLightConfig, HiLightModel, exist_ok=True)
AutoModelForImageTextToText.register(HiLightConfig, HiLightForConditionalGeneration, exist_ok=True)
AutoModelForMultimodalLM.register(HiLightConfig, HiLightForConditionalGeneration, exist_ok=True)
AutoVideoProcessor.register(HiLightConfig, HiLightVideoProcessor, exist_ok=True)
AutoProcessor.register(HiLightConfig, HiLightProcessor, exist_ok=True)
# save_pretrained copies the defining files next to the weights, so a saved folder also loads with
# trust_remote_code=True where this package is not installed.
for _config_class in (CLIPViPVisionConfig, CLIPViPPlusConfig, HiLightConfig):
    _config_class.register_for_auto_class()
for _model_class in (CLIPViPVisionModel, CLIPViPPlusModel, HiLightModel):
    _model_class.register_for_auto_class("AutoModel")
HiLightForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
HiLightVideoProcessor.register_for_auto_class("AutoVideoProcessor")
HiLightProcessor.register_for_auto_class("AutoProcessor")
# (AutoModel and AutoModelForMultimodalLM for remote code: HiLightConfig's auto_map lists them)

from .pipeline_hilight import register_video_text_to_text  # noqa: E402

register_video_text_to_text()

__all__ = [
    "load_bundled",
    "load_bundled_encoder",
    "HiLightProcessor",
    "HiLightVideoProcessor",
    "VideoDecodeError",
    "build_hilight_tokenizer",
    "HiLightConfig",
    "HiLightForConditionalGeneration",
    "HiLightModel",
    "CLIPViPPlusConfig",
    "CLIPViPPlusModel",
    "CLIPViPVisionConfig",
    "CLIPViPVisionModel",
]
