"""`pipeline("video-text-to-text", model=folder)`: transformers' any-to-any pipeline without its torchvision gate.

HiLight is registered with `AutoModelForMultimodalLM`, so `pipeline("any-to-any", model=folder)` loads it
where torchvision is installed. That pipeline refuses to start without torchvision for any model that
takes video, because transformers' own video processors need it; HiLight's does not (it decodes with
decord or PyAV). This task is the same pipeline class, with the same inputs, outputs and generation, minus
that check. Its name is the Hub's `pipeline_tag` for video chat models; transformers has no such task.
"""

from transformers.models.auto.modeling_auto import MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES, AutoModelForMultimodalLM
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.any_to_any import AnyToAnyPipeline
from transformers.pipelines.base import Pipeline

TASK = "video-text-to-text"


class VideoTextToTextPipeline(AnyToAnyPipeline):
    """`AnyToAnyPipeline` for models whose processor decodes videos itself (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        Pipeline.__init__(self, *args, **kwargs)  # AnyToAnyPipeline.__init__ only adds the backend checks
        self.check_model_type(MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES)


def register_video_text_to_text() -> None:
    """Add the task, unless transformers (a later version) has its own."""
    if TASK not in PIPELINE_REGISTRY.get_supported_tasks():
        PIPELINE_REGISTRY.register_pipeline(
            TASK, pipeline_class=VideoTextToTextPipeline, pt_model=AutoModelForMultimodalLM, type="multimodal"
        )


__all__ = ["TASK", "VideoTextToTextPipeline", "register_video_text_to_text"]
