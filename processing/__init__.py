"""Turning videos and text into HiLight model inputs (installed as `modeling_hilight.processing`)."""

from .processing_hilight import CHAT_TEMPLATE, CHAT_TEMPLATES, GEMMA_CHAT_TEMPLATE, HiLightProcessor
from .tokenization_hilight import build_hilight_tokenizer
from .video_decoding import VideoDecodeError, VideoMetadata, decode_video, probe_video, sample_indices
from .video_processing_hilight import HiLightVideoProcessor

__all__ = [
    "CHAT_TEMPLATE",
    "CHAT_TEMPLATES",
    "GEMMA_CHAT_TEMPLATE",
    "HiLightProcessor",
    "HiLightVideoProcessor",
    "VideoDecodeError",
    "VideoMetadata",
    "build_hilight_tokenizer",
    "decode_video",
    "probe_video",
    "sample_indices",
]
