"""Our collators. Every stage builds its batches here, so `pixel_values_videos` always reach the model.

(TRL's own collator switches to vision mode only for an `image`/`images` column; on a data set with
only `messages` it would train on the placeholder tokens with no video at all.)

Each video is decoded once per batch, here; with `cache_videos` a clip's decoded frames are kept
after its first decode (the sampling must be "uniform", so that every epoch would decode the same
frames: the cache changes no pixel, only the time). A sample whose video cannot be decoded leaves the batch,
is counted in `SkippedSamples` (logged, put in the Trainer logs and saved with the run), and, if a
whole batch is bad, the last good sample stands in so training goes on; nothing is dropped silently.
"""

from __future__ import annotations

import logging

import torch

from ..processing import HiLightProcessor, VideoDecodeError
from .callbacks import SkippedSamples
from .data import video_paths

logger = logging.getLogger(__name__)


class _DecodingCollator:
    def __init__(self, processor: HiLightProcessor, skipped: SkippedSamples | None = None,
                 cache_videos: bool = False, **video_kwargs):  # fmt: skip
        self.processor = processor
        self.skipped = skipped if skipped is not None else SkippedSamples()
        self.video_kwargs = video_kwargs
        self._last_good: tuple[dict, list[dict]] | None = None
        if cache_videos and processor.video_processor.sampling != "uniform":
            raise ValueError(f"cache_videos keeps each clip's first decode, but sampling is "
                             f"{processor.video_processor.sampling!r}, which draws new frames every time; "
                             f"use sampling: uniform or cache_videos: false.")  # fmt: skip
        self.cache: dict[str, dict] | None = {} if cache_videos else None

    def decode(self, example: dict, paths: list[str]) -> list[dict] | None:
        """Pixel values of each video of `example`, or None (recorded) if one cannot be decoded."""
        out = []
        for path in paths:
            key = str(path)
            if self.cache is not None and key in self.cache:
                out.append(self.cache[key])
                continue
            try:
                pixels = self.processor.video_processor(path, **self.video_kwargs)
            except VideoDecodeError as error:  # not cached: a later epoch records it again
                self.skipped.add(str(example.get("id", "?")), str(path), error.reason)
                return None
            if self.cache is not None:
                self.cache[key] = pixels
            out.append(pixels)
        return out

    def decoded_examples(self, examples: list[dict], paths_of) -> list[tuple[dict, list[dict]]]:
        good = []
        for example in examples:
            pixels = self.decode(example, paths_of(example))
            if pixels is not None:
                good.append((example, pixels))
        if good:
            self._last_good = good[-1]
        elif self._last_good is not None:
            logger.warning("every sample of this batch was skipped; the last good sample stands in")
            good = [self._last_good]
        else:
            raise VideoDecodeError(
                "batch", f"no video of the first batch could be decoded: {self.skipped.records[-len(examples):]}"
            )
        return good

    @staticmethod
    def stack(pixels: list[dict], key: str) -> torch.Tensor | None:
        parts = [p[key] for p in pixels if key in p]
        return torch.cat(parts) if parts else None


class VideoChatCollator(_DecodingCollator):
    """`messages` (transformers chat with video blocks) -> `input_ids`, `attention_mask`, `labels`
    (answers and their end markers only; -100 elsewhere), `pixel_values_videos` (and keyframes).

    With `query_grounding=(patch_size, prefix_tokens, queries_per_frame)` and rows that carry the
    world's `ball_positions`, it also gives `token_mining_targets` [V, K, q]: where each token-mining
    query should look (`billiards.grounding.query_targets`), -100 for rows without ground truth."""

    def __init__(self, processor, skipped=None, max_length: int | None = None,
                 query_grounding: tuple[int, int, int] | None = None, cache_videos: bool = False,
                 **video_kwargs):  # fmt: skip
        super().__init__(processor, skipped, cache_videos, **video_kwargs)
        self.max_length = max_length
        self.query_grounding = query_grounding
        if query_grounding is not None:  # the sampled frames' indices pick the ground truth
            self.video_kwargs["return_metadata"] = True

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        good = self.decoded_examples(examples, lambda ex: video_paths(ex["messages"]))
        batch = self.processor.apply_chat_template(
            [ex["messages"] for ex, _ in good], tokenize=True, return_tensors="pt", return_assistant_tokens_mask=True, videos=[],
            padding_side="right", truncation=self.max_length is not None, max_length=self.max_length,
        )  # fmt: skip
        labels = batch["input_ids"].masked_fill(batch["assistant_masks"] == 0, -100)
        out = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "labels": labels}
        pixels = [p for _, ps in good for p in ps]
        for key in ("pixel_values_videos", "pixel_values_keyframes"):
            value = self.stack(pixels, key)
            if value is not None:
                out[key] = value
        if self.query_grounding is not None and "pixel_values_videos" in out:
            out["token_mining_targets"] = self.token_mining_targets(good, out["pixel_values_videos"].shape[1])
        return out

    def token_mining_targets(self, good, frames: int) -> torch.Tensor:
        import json

        from .billiards.grounding import query_targets

        patch, prefix, queries = self.query_grounding
        size = self.processor.video_processor.size
        rows = []
        for example, pixels in good:
            positions = json.loads(example["ball_positions"]) if example.get("ball_positions") else None
            for video in pixels:
                if positions is None or len(pixels) > 1:  # the world's truth describes a row's one clip
                    rows.append([[-100] * queries] * frames)
                    continue
                indices = video["video_metadata"][0]["frames_indices"]
                rows.append(query_targets(positions, indices, example["width"], example["height"], size, patch,
                                          prefix, queries))  # fmt: skip
        return torch.tensor(rows, dtype=torch.long)


def caption_texts(tokenizer, captions: list[str]) -> list[str]:
    """The text the CLIP-ViP+ text tower reads: `<bos> caption <eos>`."""
    return [f"{tokenizer.bos_token} {caption} {tokenizer.eos_token}" for caption in captions]


def caption_batch(tokenizer, captions: list[str], max_length: int = 64, **kwargs):
    """Captions -> `input_ids`, `attention_mask` (padded, at most `max_length`) for the text tower
    (the encoder stage and `hilight eval` alike); `kwargs` go to the tokenizer."""
    tokens = tokenizer(caption_texts(tokenizer, captions), add_special_tokens=False, padding=True, truncation=True,
                       max_length=max_length, return_tensors="pt", **kwargs)  # fmt: skip
    # a caption cut by max_length still ends with <eos>: the text tower pools at the first <eos>
    ends = tokens["attention_mask"].sum(1) - 1
    tokens["input_ids"][torch.arange(len(ends)), ends] = tokenizer.eos_token_id
    return tokens


class VideoCaptionCollator(_DecodingCollator):
    """Video-caption pairs for CLIP-ViP+ -> `input_ids`, `attention_mask` (`<bos> caption <eos>`),
    `pixel_values_videos`. With a `captions` list, one phrasing is drawn per sample.

    With `grounding_patch_size` and rows that carry the world's `ball_positions` (billiards data),
    it also gives `grounding_targets` [N, 4]: (sample, token, frame, patch) for every caption token
    that names a ball and every sampled frame in which that ball is on the table (see
    `billiards.grounding` and the model's grounding_loss.py)."""

    def __init__(self, processor, skipped=None, max_length: int = 64, seed: int = 0,
                 grounding_patch_size: int | None = None, cache_videos: bool = False, **video_kwargs):  # fmt: skip
        super().__init__(processor, skipped, cache_videos, **video_kwargs)
        self.max_length = max_length
        self.generator = torch.Generator().manual_seed(seed)
        self.grounding_patch_size = grounding_patch_size
        if grounding_patch_size is not None:  # the sampled frames' indices pick the ground truth
            self.video_kwargs["return_metadata"] = True

    def caption_of(self, example: dict) -> str:
        options = example.get("captions") or [example["caption"]]
        return options[int(torch.randint(len(options), (1,), generator=self.generator))]

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        good = self.decoded_examples(examples, lambda ex: [ex["video"]])
        tokenizer = self.processor.tokenizer
        captions = [self.caption_of(ex) for ex, _ in good]
        texts = caption_texts(tokenizer, captions)
        grounding = self.grounding_patch_size is not None
        tokens = caption_batch(tokenizer, captions, self.max_length, return_offsets_mapping=grounding)
        ends = tokens["attention_mask"].sum(1) - 1
        pixels = [p for _, ps in good for p in ps]
        out = {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"],
               "pixel_values_videos": self.stack(pixels, "pixel_values_videos"), "return_loss": True}  # fmt: skip
        if grounding:
            out["grounding_targets"] = self.grounding_targets(good, texts, tokens["offset_mapping"].tolist(), ends)
        return out

    def grounding_targets(self, good, texts, offsets, ends) -> torch.Tensor:
        import json

        from .billiards.grounding import ball_patch, ball_words, token_balls

        size = self.processor.video_processor.size
        rows = []
        for sample, ((example, pixels), text) in enumerate(zip(good, texts)):
            if not example.get("ball_positions"):
                continue
            positions = json.loads(example["ball_positions"])
            indices = pixels[0]["video_metadata"][0]["frames_indices"]
            for token, ball in token_balls(offsets[sample][: int(ends[sample])], ball_words(text)):
                for frame, index in enumerate(indices):
                    for seen in positions[index]:
                        if seen["ball"] == ball:
                            patch = ball_patch(seen["x"], seen["y"], example["width"], example["height"], size,
                                               self.grounding_patch_size)  # fmt: skip
                            rows.append((sample, token, frame, patch))
        return torch.tensor(rows, dtype=torch.long).view(-1, 4)


__all__ = ["VideoCaptionCollator", "VideoChatCollator", "caption_batch", "caption_texts"]
