"""HiLightProcessor: text and videos -> `input_ids`, `attention_mask`, `pixel_values_videos`.

Each `<video>` in the text becomes `num_video_tokens` copies of the video token (keyframes x
queries per frame), where the model scatters its vision tokens. Videos come in order of
appearance, sample after sample; text-only samples add none. A prompt never loses part of a
video span: if `max_length` would cut one, the processor raises instead of truncating.
"""

from __future__ import annotations

import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

# The reference's Gemma turn format; the videos come first in a user turn, and each answer with
# its end marker is a {% generation %} span, so `return_assistant_tokens_mask` marks what to learn.
# The span must end on a token, not on the newline: transformers maps its last character to a token
# and a span ending in untokenised whitespace would run to the end of the sequence. (The newline is
# an expression because transformers renders with trim_blocks, which eats a newline after a tag.)
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set content = message['content'] if message['content'] is not string else [{'type': 'text', 'text': message['content']}] %}"
    "{% if message['role'] == 'user' %}"
    "<start_of_turn>user\n"
    "{% for block in content %}{% if block['type'] == 'video' %}{{ video_token * (num_video_tokens | default(1)) }}\n{% endif %}{% endfor %}"
    "{% for block in content %}{% if block['type'] == 'text' %}{{ block['text'] }}{% endif %}{% endfor %}"
    "<end_of_turn>\n"
    "{% elif message['role'] == 'assistant' %}"
    "<start_of_turn>model\n"
    "{% generation %}"
    "{% for block in content %}{% if block['type'] == 'text' %}{{ block['text'] }}{% endif %}{% endfor %}"
    "<end_of_turn>"
    "{% endgeneration %}{{ '\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


class HiLightProcessor(ProcessorMixin):
    r"""
    video_processor (`HiLightVideoProcessor`), tokenizer (any tokenizer that knows `video_token`).
    video_token (`str`, "<video>"): the placeholder, in the text and repeated in `input_ids`.
    queries_per_frame (`int`, 32): vision tokens per keyframe (`HiLightConfig.vision_tokens_per_frame`).
    """

    def __init__(self, video_processor=None, tokenizer=None, chat_template=None, video_token: str = "<video>",
                 queries_per_frame: int = 32, **kwargs):  # fmt: skip
        self.video_token = video_token
        self.queries_per_frame = queries_per_frame
        super().__init__(video_processor, tokenizer, chat_template=chat_template or CHAT_TEMPLATE, **kwargs)
        self.video_token_id = tokenizer.convert_tokens_to_ids(video_token)
        if self.video_token_id is None or self.video_token_id == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no token {video_token!r}; add it as a special token.")

    def check_argument_for_proper_class(self, argument_name, argument):
        # Without torchvision, transformers' video-processor base class and mapping are placeholders,
        # so the generic check cannot run: check against the mixin our video processor is built on.
        if argument_name == "video_processor":
            from transformers.video_processing_utils import VideoProcessorMixin

            if not isinstance(argument, VideoProcessorMixin):
                raise TypeError(f"video_processor must be a VideoProcessorMixin, got {type(argument).__name__}.")
            return type(argument)
        return super().check_argument_for_proper_class(argument_name, argument)

    @property
    def num_video_tokens(self) -> int:
        """Placeholder tokens per video: the frames that give queries x queries per frame."""
        return self.video_processor.frames_for_tokens * self.queries_per_frame

    def __call__(self, text=None, videos=None, padding: bool | str = True, truncation: bool = False,
                 max_length: int | None = None, padding_side: str | None = None, return_tensors: str = "pt",
                 **video_kwargs) -> BatchFeature:  # fmt: skip
        """`text`: a string or a list (one per sample) with `<video>` where each video goes.
        `videos`: the videos in order of appearance (flat, or one list per sample)."""
        if text is None:
            raise ValueError("HiLightProcessor needs `text` (with a <video> placeholder per video).")
        texts = [text] if isinstance(text, str) else list(text)
        flat = self._flatten_videos(videos)
        counts = [t.count(self.video_token) for t in texts]
        if sum(counts) != len(flat):
            raise ValueError(
                f"the text has {sum(counts)} {self.video_token} placeholders (per sample: {counts}) but "
                f"{len(flat)} videos were given; they must match, in order."
            )
        expanded = [t.replace(self.video_token, self.video_token * self.num_video_tokens) for t in texts]
        encoded = self.tokenizer(expanded, add_special_tokens=False, padding=False, truncation=False)
        encoded["input_ids"] = self._truncate(encoded["input_ids"], truncation, max_length)
        encoded["attention_mask"] = [[1] * len(ids) for ids in encoded["input_ids"]]
        return self._finish(encoded, flat, padding, padding_side, return_tensors, video_kwargs)

    def _finish(self, encoded, videos, padding, padding_side, return_tensors, video_kwargs, extra=()):
        features = {k: encoded[k] for k in ("input_ids", "attention_mask", *extra)}
        pad_kwargs = {"padding_side": padding_side} if padding_side else {}
        batch = self.tokenizer.pad(
            {k: features[k] for k in ("input_ids", "attention_mask")}, padding=padding, return_tensors=return_tensors,
            **pad_kwargs,
        )  # fmt: skip
        data = dict(batch)
        for key in extra:  # extra per-token masks follow the same padding side
            side = padding_side or self.tokenizer.padding_side
            width = data["input_ids"].shape[1]
            rows = [m + [0] * (width - len(m)) if side == "right" else [0] * (width - len(m)) + m for m in features[key]]
            data[key] = torch.tensor(rows)
        metadata = None
        if videos:
            pixels = self.video_processor(videos, **video_kwargs)
            metadata = pixels.pop("video_metadata")
            data.update(pixels)
        out = BatchFeature(data=data, tensor_type=return_tensors)
        if metadata is not None:
            out["video_metadata"] = metadata
        return out

    def _truncate(self, rows: list[list[int]], truncation, max_length):
        if not truncation or max_length is None:
            return rows
        out = []
        for i, ids in enumerate(rows):
            if len(ids) > max_length and self.video_token_id in ids[max_length:]:
                last_video = max(j for j, t in enumerate(ids) if t == self.video_token_id)
                raise ValueError(
                    f"sample {i} has {len(ids)} tokens and max_length={max_length} would cut a video span "
                    f"(its last vision token is at position {last_video}; each video takes {self.num_video_tokens} "
                    f"tokens). Raise max_length to at least {last_video + 1} or use fewer frames/videos."
                )
            out.append(ids[:max_length])
        return out

    @staticmethod
    def _flatten_videos(videos) -> list:
        if videos is None:
            return []
        if not isinstance(videos, (list, tuple)):
            return [videos]
        flat = []
        for item in videos:
            if isinstance(item, (list, tuple)) and item and not hasattr(item[0], "ndim"):
                flat.extend(item)  # one list of videos per sample
            elif isinstance(item, (list, tuple)) and not item:
                continue  # a text-only sample
            else:
                flat.append(item)
        return flat

    @staticmethod
    def videos_in(conversation: list[dict]) -> list:
        """The `{"type": "video", "path" | "video": ...}` blocks of a conversation, in order."""
        found = []
        for turn in conversation:
            content = turn["content"] if not isinstance(turn["content"], str) else []
            for block in content:
                if block.get("type") == "video":
                    source = block.get("path") or block.get("video") or block.get("url")
                    if source is None:
                        raise ValueError(f"a video block needs a 'path' (or 'video') entry: {block}")
                    found.append(source)
        return found

    def apply_chat_template(self, conversation, add_generation_prompt: bool = False, tokenize: bool = False,
                            return_dict: bool = True, return_assistant_tokens_mask: bool = False,
                            padding: bool | str = True, truncation: bool = False, max_length: int | None = None,
                            padding_side: str | None = None, return_tensors: str = "pt", videos=None,
                            continue_final_message: bool = False, processor_kwargs: dict | None = None,
                            **video_kwargs):  # fmt: skip
        """Render one conversation or a batch in the Gemma turn format.

        `tokenize=False`: the prompt text, one `<video>` per video, for `__call__`.
        `tokenize=True`: model inputs, loading the videos named in the video blocks (or `videos`,
        already decoded, in order), with `assistant_masks` when `return_assistant_tokens_mask`."""
        batched = bool(conversation) and isinstance(conversation[0], (list, tuple))
        conversations = conversation if batched else [conversation]
        # transformers' pipelines pass the processor's own options as `processor_kwargs`
        options = dict(processor_kwargs or {})
        padding, truncation = options.pop("padding", padding), options.pop("truncation", truncation)
        max_length, padding_side = options.pop("max_length", max_length), options.pop("padding_side", padding_side)
        video_kwargs.update(options)
        render = dict(chat_template=self.chat_template, add_generation_prompt=add_generation_prompt,
                      continue_final_message=continue_final_message, video_token=self.video_token)  # fmt: skip
        if not tokenize:
            texts = [self.tokenizer.apply_chat_template(c, tokenize=False, num_video_tokens=1, **render)
                     for c in conversations]  # fmt: skip
            return texts if batched else texts[0]
        flat = list(videos) if videos is not None else [v for c in conversations for v in self.videos_in(c)]
        encoded = self.tokenizer.apply_chat_template(
            conversations, tokenize=True, return_dict=True, return_assistant_tokens_mask=return_assistant_tokens_mask,
            num_video_tokens=self.num_video_tokens, **render,
        )  # fmt: skip
        ids = self._truncate(encoded["input_ids"], truncation, max_length)
        masks = encoded.get("assistant_masks")
        encoded = {"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids]}
        extra = ()
        if return_assistant_tokens_mask:
            encoded["assistant_masks"] = [m[: len(r)] for m, r in zip(masks, ids)]
            extra = ("assistant_masks",)
        if not return_dict:
            return encoded["input_ids"]
        return self._finish(encoded, flat, padding, padding_side, return_tensors, video_kwargs, extra)


__all__ = ["CHAT_TEMPLATE", "HiLightProcessor"]
