"""HiLight: a video chat model (arXiv 2407.07325) as a transformers-compatible package.

Importing this package registers every HiLight class with the transformers Auto classes, so
`AutoConfig`, `AutoModel`, `AutoModelForImageTextToText` and `AutoProcessor` resolve the
`clip_vip_plus` and `hilight` model types without `trust_remote_code`.
"""

from transformers import AutoConfig, AutoModel

from .configuration_clip_vip_plus import CLIPViPPlusConfig, CLIPViPVisionConfig
from .modeling_clip_vip_plus import CLIPViPPlusModel, CLIPViPVisionModel

AutoConfig.register(CLIPViPVisionConfig.model_type, CLIPViPVisionConfig, exist_ok=True)
AutoConfig.register(CLIPViPPlusConfig.model_type, CLIPViPPlusConfig, exist_ok=True)
AutoModel.register(CLIPViPVisionConfig, CLIPViPVisionModel, exist_ok=True)
AutoModel.register(CLIPViPPlusConfig, CLIPViPPlusModel, exist_ok=True)
# save_pretrained copies the defining files next to the weights, so a saved folder also loads with
# trust_remote_code=True where this package is not installed.
for _config_class in (CLIPViPVisionConfig, CLIPViPPlusConfig):
    _config_class.register_for_auto_class()
for _model_class in (CLIPViPVisionModel, CLIPViPPlusModel):
    _model_class.register_for_auto_class("AutoModel")

__all__ = [
    "CLIPViPPlusConfig",
    "CLIPViPPlusModel",
    "CLIPViPVisionConfig",
    "CLIPViPVisionModel",
]
