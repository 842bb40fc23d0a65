"""HiLightProcessor: text and videos -> `input_ids`, `attention_mask`, `pixel_values_videos`.

Each `<video>` in the text becomes one video token per vision token (keyframes x queries per
frame, for the frames this call produced), where the model scatters its vision tokens. Videos come
in order of appearance, sample after sample; text-only samples add none. A prompt never loses part
of a video span: if `max_length` would cut one, the processor raises instead of truncating.

`apply_chat_template` is transformers' own (`ProcessorMixin.apply_chat_template`): it renders the
template, loads the videos named in the video blocks and calls this processor, which reports where
it expanded each `<video>` so the assistant masks stay aligned.
"""

from __future__ import annotations

import copy

import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin
from transformers.utils.chat_template_utils import _get_template_variables


def _chat_template(answer_end: str, after_answer: str = "") -> str:
    """Gemma turns; `answer_end` closes each model turn inside its {% generation %} span (learned),
    `after_answer` follows the span (not learned)."""
    return (
        "{{ bos_token }}"
        "{% for message in messages %}"
        "{% set content = message['content'] if message['content'] is not string else [{'type': 'text', 'text': message['content']}] %}"
        "{% if message['role'] == 'user' %}"
        "<start_of_turn>user\n"
        "{% for block in content %}{% if block['type'] == 'video' %}{{ video_token }}\n{% endif %}{% endfor %}"
        "{% for block in content %}{% if block['type'] == 'text' %}{{ block['text'] }}{% endif %}{% endfor %}"
        "<end_of_turn>\n"
        "{% elif message['role'] == 'assistant' %}"
        "<start_of_turn>model\n"
        "{% generation %}"
        "{% for block in content %}{% if block['type'] == 'text' %}{{ block['text'] }}{% endif %}{% endfor %}"
        f"{answer_end}"
        "{% endgeneration %}"
        f"{after_answer}"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    )


# The reference's conversation (`conv_gemma`: Gemma turns, `sep2="<eos>"`): every model turn ends with
# `<end_of_turn>\n<eos>`, learned with the answer (the whole of it is the {% generation %} span, so
# `return_assistant_tokens_mask` marks it), and carried between turns of a multi-turn prompt. Videos
# come first in a user turn. (The newline before `<eos>` follows literal text, so Jinja's trim_blocks
# keeps it.)
CHAT_TEMPLATE = _chat_template("<end_of_turn>\n{{ eos_token }}")
# Gemma's own format, an option (`chat_template="gemma"`): a model turn ends with `<end_of_turn>`, no
# `<eos>`. The span must end on a token, not on the newline after it, hence the newline outside it.
GEMMA_CHAT_TEMPLATE = _chat_template("<end_of_turn>", "{{ '\\n' }}")
CHAT_TEMPLATES = {"default": CHAT_TEMPLATE, "gemma": GEMMA_CHAT_TEMPLATE}


class HiLightProcessor(ProcessorMixin):
    r"""
    video_processor (`HiLightVideoProcessor`), tokenizer (any tokenizer that knows `video_token`).
    video_token (`str`, "<video>"): the placeholder, in the text and repeated in `input_ids`.
    queries_per_frame (`int`, 32): vision tokens per keyframe (`HiLightConfig.vision_tokens_per_frame`).
    chat_template: default `CHAT_TEMPLATES`, the reference's format as "default" and Gemma's as "gemma"
        (`apply_chat_template(..., chat_template="gemma")`).
    """

    skip_tensor_conversion = ["video_metadata", "text_replacement_offsets"]

    def __init__(self, video_processor=None, tokenizer=None, chat_template=None, video_token: str = "<video>",
                 queries_per_frame: int = 32, **kwargs):  # fmt: skip
        self.video_token = video_token
        self.queries_per_frame = queries_per_frame
        super().__init__(video_processor, tokenizer, chat_template=chat_template or dict(CHAT_TEMPLATES), **kwargs)
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
        """Placeholder tokens per video at the video processor's defaults: the frames that give
        queries x queries per frame."""
        return self.video_processor.frames_for_tokens * self.queries_per_frame

    def tokens_per_video(self, pixels: BatchFeature | None) -> int:
        """Placeholder tokens per video for the frames this call produced (its own `num_frames` or
        `num_keyframes` included): the keyframes when sent apart, else the clip's frames."""
        if pixels is None:
            return self.num_video_tokens
        frames = pixels.get("pixel_values_keyframes", pixels["pixel_values_videos"]).shape[1]
        return frames * self.queries_per_frame

    def __call__(self, text=None, videos=None, padding: bool | str = True, truncation: bool = False,
                 max_length: int | None = None, padding_side: str | None = None, pad_to_multiple_of: int | None = None,
                 return_tensors: str | None = "pt", add_special_tokens: bool = False, return_metadata: bool = False,
                 return_offsets_mapping: bool = False, return_text_replacement_offsets: bool = False,
                 placeholders_only: bool = False, images=None, audio=None, **video_kwargs) -> BatchFeature:  # fmt: skip
        """`text`: a string or a list (one per sample) with `<video>` where each video goes.
        `videos`: the videos in order of appearance (flat, or one list per sample). The output goes
        straight into the model (`model(**out)`, `model.generate(**out)`); `return_metadata=True`
        adds `video_metadata` (fps, duration, frame indices, timestamps), which the model does not take.
        Video arguments (`num_frames`, `num_keyframes`, `sampling`, `fps`, `indices`, `seed`, ...)
        go to the video processor. `placeholders_only=True`: expand each `<video>` at the default
        count and load nothing (for collators that decode the videos themselves)."""
        if text is None:
            raise ValueError("HiLightProcessor needs `text` (with a <video> placeholder per video).")
        if images is not None or audio is not None:
            raise ValueError("HiLight takes text and videos only; got images or audio.")
        if video_kwargs.pop("do_sample_frames", True) is False:
            raise ValueError("HiLightProcessor always samples frames (num_frames, fps or indices); "
                             "do_sample_frames=False is not supported.")  # fmt: skip
        if video_kwargs.pop("sanitize_control_tokens", False):
            raise ValueError("HiLightProcessor does not support sanitize_control_tokens.")
        texts = [text] if isinstance(text, str) else list(text)
        flat = self._flatten_videos(videos)
        counts = [t.count(self.video_token) for t in texts]
        if not placeholders_only and sum(counts) != len(flat):
            raise ValueError(
                f"the text has {sum(counts)} {self.video_token} placeholders (per sample: {counts}) but "
                f"{len(flat)} videos were given; they must match, in order."
            )
        pixels = None
        if flat and not placeholders_only:
            pixels = self.video_processor(flat, return_metadata=return_metadata, **video_kwargs)
        per_video = self.tokens_per_video(pixels)
        texts, replacements = self.get_text_with_replacements(
            texts, videos_replacements=[self.video_token * per_video] * sum(counts)
        )
        encoded = self.tokenizer(texts, add_special_tokens=add_special_tokens, return_offsets_mapping=return_offsets_mapping)
        rows = self._truncate(encoded["input_ids"], truncation, max_length, per_video)
        data = self._pad({"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]}, padding, padding_side,
                         max_length, pad_to_multiple_of)  # fmt: skip
        if return_offsets_mapping:  # padding and cut tokens cover no characters
            data["offset_mapping"] = self._pad_like(data, [o[: len(r)] for o, r in zip(encoded["offset_mapping"], rows)],
                                                    (0, 0), padding_side)  # fmt: skip
        if return_text_replacement_offsets:
            data["text_replacement_offsets"] = replacements
        if pixels is not None:
            data.update(pixels)
        return BatchFeature(data=data, tensor_type=return_tensors, skip_tensor_conversion=self.skip_tensor_conversion)

    def _pad(self, features, padding, padding_side, max_length, pad_to_multiple_of) -> dict:
        kwargs = {"padding_side": padding_side} if padding_side else {}
        if padding == "max_length":
            kwargs["max_length"] = max_length
        padded = self.tokenizer.pad(features, padding=padding, pad_to_multiple_of=pad_to_multiple_of,
                                    return_tensors=None, **kwargs)  # fmt: skip
        return {"input_ids": padded["input_ids"], "attention_mask": padded["attention_mask"]}

    def _pad_like(self, data, rows, value, padding_side) -> list:
        """`rows` padded to the width of `data["input_ids"]`, on the same side."""
        side = padding_side or self.tokenizer.padding_side
        out = []
        for row, ids in zip(rows, data["input_ids"]):
            fill = [value] * (len(ids) - len(row))
            out.append(list(row) + fill if side == "right" else fill + list(row))
        return out

    def _truncate(self, rows: list[list[int]], truncation, max_length, per_video: int):
        if not truncation or max_length is None:
            return rows
        out = []
        for i, ids in enumerate(rows):
            if len(ids) > max_length and self.video_token_id in ids[max_length:]:
                last_video = max(j for j, t in enumerate(ids) if t == self.video_token_id)
                raise ValueError(
                    f"sample {i} has {len(ids)} tokens and max_length={max_length} would cut a video span "
                    f"(its last vision token is at position {last_video}; each video takes {per_video} "
                    f"tokens). Raise max_length to at least {last_video + 1} or use fewer frames/videos."
                )
            out.append(ids[:max_length])
        return out

    @staticmethod
    def _flatten_videos(videos) -> list:
        """A flat list of videos from one video, a list, or one list per sample (a list of
        `[H, W, 3]` frames is one video)."""
        if videos is None:
            return []
        if not isinstance(videos, (list, tuple)) or getattr(videos[0] if videos else None, "ndim", None) == 3:
            return [videos]
        flat = []
        for item in videos:
            if isinstance(item, (list, tuple)):
                flat.extend(HiLightProcessor._flatten_videos(item) if item else [])  # a sample's videos
            else:
                flat.append(item)
        return flat

    def apply_chat_template(self, conversation, chat_template: str | None = None, tools=None, documents=None,
                            add_generation_prompt: bool = False, continue_final_message: bool | str = False,
                            return_assistant_tokens_mask: bool = False, tokenize: bool = False,
                            return_tensors: str | None = "auto", return_dict: bool = True,
                            load_audio_from_video: bool = False, processor_kwargs: dict | None = None,
                            sanitize_control_tokens: bool = False, videos=None, **kwargs):  # fmt: skip
        """transformers' `ProcessorMixin.apply_chat_template`, in the reference's format by default
        (`chat_template="gemma"`: Gemma's; any template string works). `tokenize=True` loads the
        videos named in the video blocks (`path`, `video` or `url`) and returns model inputs
        (`return_dict=True` is the default here), with `assistant_masks` when asked; token ids are
        lists unless `return_tensors="pt"` (transformers' default, which TRL relies on).

        Processor arguments go in `processor_kwargs` or, as a convenience, directly (`padding_side`,
        `truncation`, `max_length`, `num_frames`, ...: whatever the template does not use).
        `videos`: the conversation's videos already loaded, in order, instead of the block sources;
        `[]` tokenizes with default-size placeholders and loads nothing."""
        template = self._resolve_chat_template(chat_template)
        variables = _get_template_variables(template)
        for name, value in (("tools", tools), ("documents", documents)):
            if value and name not in variables:
                raise ValueError(f"this chat template does not use `{name}` (HiLight's templates have no tools or "
                                 f"documents); pass a chat_template that renders them.")  # fmt: skip
        if load_audio_from_video:
            raise ValueError("HiLight takes no audio: load_audio_from_video is not supported.")
        if sanitize_control_tokens:
            raise ValueError("HiLightProcessor.apply_chat_template does not support sanitize_control_tokens.")
        processor_kwargs = dict(processor_kwargs or {})
        for key in [k for k in kwargs if k not in variables]:
            processor_kwargs[key] = kwargs.pop(key)
        if "video_token" in variables:
            kwargs.setdefault("video_token", self.video_token)
        if return_tensors == "auto":  # transformers' default: token ids as lists (TRL's checks rely on it)
            processor_kwargs.setdefault("return_tensors", None)
        conversation = self._without_none(conversation)
        if videos is not None:
            conversation, processor_kwargs["placeholders_only"] = self._with_videos(conversation, list(videos)), not videos
        out = super().apply_chat_template(
            conversation, chat_template=template, tools=tools, documents=documents,
            add_generation_prompt=add_generation_prompt, continue_final_message=continue_final_message,
            return_assistant_tokens_mask=return_assistant_tokens_mask, tokenize=tokenize, return_tensors=return_tensors,
            return_dict=return_dict, processor_kwargs=processor_kwargs, **kwargs,
        )  # fmt: skip
        if tokenize and return_dict and "assistant_masks" in out and torch.is_tensor(out["input_ids"]):
            out["assistant_masks"] = torch.as_tensor(out["assistant_masks"], dtype=out["input_ids"].dtype)
        return out

    @staticmethod
    def _without_none(conversation):
        """Content blocks without their None entries, as a `datasets` column gives them (each block
        gets every key any block of the column has)."""

        def clean(message):
            if isinstance(message, dict) and isinstance(message.get("content"), list):
                content = [{k: v for k, v in b.items() if v is not None} if isinstance(b, dict) else b
                           for b in message["content"]]  # fmt: skip
                return {**message, "content": content}
            return message

        if conversation and isinstance(conversation[0], (list, tuple)):
            return [[clean(m) for m in c] for c in conversation]
        return [clean(m) for m in conversation]

    @staticmethod
    def _with_videos(conversation, videos: list):
        """A copy of the conversation(s) whose video blocks carry `videos` in order (none: no source)."""
        conversation = copy.deepcopy(conversation)
        batch = conversation if conversation and isinstance(conversation[0], (list, tuple)) else [conversation]
        blocks = [b for c in batch for m in c if not isinstance(m["content"], str) for b in m["content"]
                  if b.get("type") == "video"]  # fmt: skip
        if videos and len(videos) != len(blocks):
            raise ValueError(f"{len(videos)} videos were given for {len(blocks)} video blocks; they must match, in order.")
        for i, block in enumerate(blocks):
            for key in ("path", "video", "url"):
                block.pop(key, None)
            if videos:
                block["video"] = videos[i]
        return conversation


__all__ = ["CHAT_TEMPLATE", "CHAT_TEMPLATES", "GEMMA_CHAT_TEMPLATE", "HiLightProcessor"]
