"""HiLightVideoProcessor: videos -> `pixel_values_videos [B, T, 3, H, W]` for both HiLight towers.

Decoding (video_decoding.py) takes only the sampled frames; the transforms are the reference's:
squash-resize to the model size with bicubic interpolation (or short side + centre crop), scale to
[0, 1], CLIP mean and std. A batch decodes in a bounded thread pool (decord and PyAV release the
GIL), so memory stays bounded by the sampled frames.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import VideosKwargs
from transformers.video_processing_utils import VideoProcessorMixin

from .video_decoding import SAMPLING_STRATEGIES, decode_video

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
RESIZE_MODES = ("squash", "crop")


class HiLightVideosKwargs(VideosKwargs, total=False):
    sampling: str
    indices: list[int]
    num_keyframes: int | None
    resize_mode: str
    num_decode_threads: int
    decode_backend: str
    resize_in_decoder: bool
    seed: int | None


class HiLightVideoProcessor(VideoProcessorMixin):
    r"""
    size (`int`, 224): output frames are `size x size`.
    num_frames (`int`, 12): frames per video for CLIP-ViP+.
    num_keyframes (`int`, *optional*): frames for Long-CLIP when it should see a different count;
        then `pixel_values_keyframes` is returned too. None: Long-CLIP sees the same frames.
    sampling (`str`, "uniform"): "uniform" (truncated linspace, the reference), "jitter" (CLIP-ViP's
        training rule; HiLight never jitters), "fps" (with `fps`), "indices" (with `indices`).
    resize_mode (`str`, "squash"): "squash" (the reference) or "crop" (short side, centre crop).
    image_mean, image_std: CLIP's.
    num_decode_threads (`int`, 4): threads decoding a batch.
    decode_backend (`str`, "auto"): "auto" (the faster decoder for each file, PyAV when decord fails),
        "decord" or "pyav"; both give the same pixels.
    resize_in_decoder (`bool`, True): with "squash", let the decoder scale files to `size` (FFmpeg's
        scale filter, bilinear, as decord does it); it costs almost nothing, where a bicubic resize of
        full frames in torch costs about as much as decoding 720p. False: torch's antialiased bicubic
        on the full frames.
    """

    model_input_names = ["pixel_values_videos"]
    valid_kwargs = HiLightVideosKwargs

    def __init__(
        self,
        size: int = 224,
        num_frames: int = 12,
        num_keyframes: int | None = None,
        sampling: str = "uniform",
        fps: float | None = None,
        resize_mode: str = "squash",
        image_mean: list[float] | None = None,
        image_std: list[float] | None = None,
        num_decode_threads: int = 4,
        decode_backend: str = "auto",
        resize_in_decoder: bool = True,
        **kwargs,
    ):
        for key in ("do_resize", "do_rescale", "do_normalize", "rescale_factor", "do_convert_rgb", "resample"):
            kwargs.pop(key, None)  # fixed by this processor; tolerated for configs written by other tools
        super().__init__(**kwargs)
        if isinstance(size, dict):
            size = size.get("height") or size.get("shortest_edge")
        if sampling not in SAMPLING_STRATEGIES:
            raise ValueError(f"sampling must be one of {SAMPLING_STRATEGIES}, got {sampling!r}.")
        if resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {resize_mode!r}.")
        self.size = int(size)
        self.num_frames = num_frames
        self.num_keyframes = num_keyframes
        self.sampling = sampling
        self.fps = fps
        self.resize_mode = resize_mode
        self.image_mean = list(image_mean or CLIP_MEAN)
        self.image_std = list(image_std or CLIP_STD)
        self.num_decode_threads = num_decode_threads
        self.decode_backend = decode_backend
        self.resize_in_decoder = resize_in_decoder

    @staticmethod
    def keyframes_differ(num_frames: int | None, num_keyframes: int | None) -> bool:
        return num_keyframes is not None and num_keyframes != num_frames

    @property
    def frames_for_tokens(self) -> int:
        """How many frames set the vision-token count by default: the keyframes (Long-CLIP gives the
        queries). A call with its own `num_frames`/`num_keyframes` sets its own count."""
        return self.num_keyframes if self.keyframes_differ(self.num_frames, self.num_keyframes) else self.num_frames

    def transform(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 `[T, H, W, 3]` -> normalised float `[T, 3, size, size]`."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        height, width = x.shape[-2:]
        if self.resize_mode == "crop":
            scale = self.size / min(height, width)
            target = (max(self.size, round(height * scale)), max(self.size, round(width * scale)))
            x = F.interpolate(x, size=target, mode="bicubic", antialias=True, align_corners=False)
            top, left = (target[0] - self.size) // 2, (target[1] - self.size) // 2
            x = x[:, :, top : top + self.size, left : left + self.size]
        elif (height, width) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bicubic", antialias=True, align_corners=False)
        x = (x / 255.0).clamp_(0, 1)
        mean = torch.tensor(self.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std).view(1, 3, 1, 1)
        return (x - mean) / std

    def _one(self, video, settings: dict, seed: int | None):
        rng = np.random.default_rng(seed) if settings["sampling"] == "jitter" else None
        frames, meta, keyframes = decode_video(
            video,
            settings["num_frames"],
            settings["sampling"],
            fps=settings["fps"],
            indices=settings["indices"],
            rng=rng,
            backend=settings["decode_backend"],
            num_keyframes=settings["num_keyframes"] if settings["keyframes_differ"] else None,
            decode_size=self.size if self.resize_in_decoder and self.resize_mode == "squash" else None,
        )
        clip = self.transform(frames)
        return clip, (self.transform(keyframes) if keyframes is not None else None), meta.to_dict()

    def preprocess(self, videos, return_tensors: str | None = "pt", seed: int | None = None,
                   return_metadata: bool = False, **kwargs) -> BatchFeature:  # fmt: skip
        """One video or a list of videos -> `pixel_values_videos` `[B, T, 3, size, size]` (and
        `pixel_values_keyframes` when `num_keyframes` differs); with `return_metadata=True` also
        `video_metadata` (a list of dicts with fps, duration, frame indices and timestamps), as
        transformers' video processors do. Per-call overrides: `num_frames`,
        `num_keyframes`, `sampling`, `fps`, `indices`, `decode_backend`; `seed` makes jittered
        sampling repeatable."""
        unknown = set(kwargs) - {"num_frames", "num_keyframes", "sampling", "fps", "indices", "decode_backend"}
        if unknown:
            raise TypeError(f"HiLightVideoProcessor got unexpected arguments: {sorted(unknown)}")
        settings = {
            "num_frames": kwargs.get("num_frames", self.num_frames),
            "sampling": kwargs.get("sampling", self.sampling),
            "fps": kwargs.get("fps", self.fps),
            "indices": kwargs.get("indices"),
            "decode_backend": kwargs.get("decode_backend", self.decode_backend),
            "num_keyframes": kwargs.get("num_keyframes", self.num_keyframes),
        }
        settings["keyframes_differ"] = self.keyframes_differ(settings["num_frames"], settings["num_keyframes"])
        if settings["indices"] is not None:
            settings["sampling"] = "indices"
        batch = self.as_batch(videos)
        seeds = [None if seed is None else seed + i for i in range(len(batch))]
        if len(batch) == 1 or self.num_decode_threads <= 1:
            results = [self._one(v, settings, s) for v, s in zip(batch, seeds)]
        else:
            with ThreadPoolExecutor(max_workers=min(self.num_decode_threads, len(batch))) as pool:
                results = list(pool.map(lambda args: self._one(args[0], settings, args[1]), zip(batch, seeds)))
        lengths = {r[0].shape[0] for r in results}
        if len(lengths) > 1:
            raise ValueError(f"videos of one batch gave different frame counts {sorted(lengths)}; set num_frames.")
        data = {"pixel_values_videos": torch.stack([r[0] for r in results])}
        if settings["keyframes_differ"]:
            data["pixel_values_keyframes"] = torch.stack([r[1] for r in results])
        output = BatchFeature(data=data, tensor_type=return_tensors)
        if return_metadata:
            output["video_metadata"] = [r[2] for r in results]
        return output

    @staticmethod
    def as_batch(videos) -> list:
        """A list of videos from one video or a batch (a list of frames is one video)."""
        if isinstance(videos, (list, tuple)):
            if not videos:
                raise ValueError("videos is an empty list.")
            first = videos[0]
            if getattr(first, "ndim", None) == 3:
                return [videos]  # frames of one video
            return list(videos)
        return [videos]


__all__ = ["HiLightVideoProcessor"]
