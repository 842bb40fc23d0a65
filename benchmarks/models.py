"""The models the benchmarks compare, built from configs with random weights (nothing is downloaded).

HiLight at the published tower sizes (CLIP-ViP ViT-B/16 and Long-CLIP-B at 224 px, 12 frames,
reference token mining: 384 vision tokens) with an LLM of a chosen size:
  "mid"        8 layers, width 512 (a stand-in that runs in seconds on a CPU)
  "gemma-2b"   Gemma-2B's shapes (18 layers, width 2048, 8 heads, 1 KV head, vocabulary 256,000)
  a width w    Gemma-2B's shape scaled to width w (18 layers, MLP 8w, 8 heads of w/8, 1 KV head)
and the alternatives a user would pick instead, on the same LLM (sharing its weights, which
changes no timing and halves the memory a comparison needs):
  VideoLlavaStyle   the same CLIP-ViP tower, all 4 + 12 x 196 = 2,356 of its tokens projected into the LLM
  transformers' VideoLlavaForConditionalGeneration with its published tower (CLIP ViT-L/14, 224 px,
  8 frames: 8 x 257 = 2,056 vision tokens).
"smoke" gives tiny towers and a tiny LLM, for checking that a script runs.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from transformers import AutoModel, VideoLlavaConfig, VideoLlavaForConditionalGeneration
from transformers.generation.streamers import BaseStreamer
from transformers.models.video_llava.modeling_video_llava import VideoLlavaMultiModalProjector

from modeling_hilight import HiLightConfig, HiLightForConditionalGeneration
from modeling_hilight.configuration_hilight import GEMMA_2B

MID = dict(model_type="gemma", hidden_size=512, intermediate_size=2048, num_hidden_layers=8, num_attention_heads=8,
           num_key_value_heads=8, head_dim=64, vocab_size=8192, max_position_embeddings=4096)  # fmt: skip
CLIP_VIT_L_14 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                     image_size=224, patch_size=14, projection_dim=768)  # fmt: skip
QUESTION_TOKENS = 29  # the prompt is <bos>, the vision tokens, then a question of this many tokens


def text_config(llm: str | int) -> dict:
    if llm == "mid":
        return dict(MID)
    if llm == "gemma-2b":
        return dict(model_type="gemma", **GEMMA_2B)
    if llm == "smoke":
        return dict(model_type="gemma", vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=4096)  # fmt: skip
    width = int(llm)
    return dict(model_type="gemma", **{**GEMMA_2B, "hidden_size": width, "intermediate_size": 8 * width,
                                       "head_dim": width // 8})  # fmt: skip


def llm_label(llm: str | int) -> str:
    return {"mid": "LLM 8 x 512", "gemma-2b": "LLM at Gemma-2B shapes", "smoke": "tiny LLM"}.get(
        llm, f"Gemma-2B shape at width {llm}")


def hilight(llm: str | int, dtype=torch.float32) -> HiLightForConditionalGeneration:
    torch.manual_seed(0)
    if llm == "smoke":
        config = HiLightConfig.tiny(text_config={**text_config("smoke"), "model_type": "gemma"})
    else:
        config = HiLightConfig(text_config=text_config(llm))
    config.video_token_id = config.text_config.vocab_size - 1
    return HiLightForConditionalGeneration(config).to(dtype).eval()


def llm_parameters(model: HiLightForConditionalGeneration) -> int:
    """The LLM's parameters without its embedding table (what a token's prefill multiplies)."""
    llm = model.model.language_model
    return sum(p.numel() for p in llm.parameters()) - llm.get_input_embeddings().weight.numel()


def prompt(model: HiLightForConditionalGeneration, device="cpu"):
    """(input_ids with the vision placeholders, the text alone) for <bos> + video + question."""
    config = model.config
    text = torch.arange(10, 11 + QUESTION_TOKENS, device=device)[None] % (config.text_config.vocab_size - 2)
    placeholders = torch.full((1, config.num_vision_tokens), config.video_token_id, device=device)
    return torch.cat([text[:, :1], placeholders, text[:, 1:]], 1), text


def videos(model, frames: int | None = None, batch: int = 1, device="cpu", dtype=torch.float32) -> torch.Tensor:
    size = model.config.clip_vip_config.image_size
    return torch.randn(batch, frames or model.config.num_frames, 3, size, size, device=device, dtype=dtype)


class VideoLlavaStyle(nn.Module):
    """HiLight's CLIP-ViP tower and LLM, every CLIP-ViP token projected by an MLP (no token mining, no
    Long-CLIP): what the LLM would see without HiLight's token mining."""

    def __init__(self, hilight: HiLightForConditionalGeneration):
        super().__init__()
        self.hilight = hilight
        width, text = hilight.config.clip_vip_config.hidden_size, hilight.config.text_config.hidden_size
        self.projector = nn.Sequential(nn.Linear(width, text), nn.GELU(), nn.Linear(text, text))
        self.projector.to(hilight.dtype)

    def generate(self, text_ids, videos, **kwargs):
        tokens = self.projector(self.hilight.model.clip_vip(videos).last_hidden_state)
        embed = self.hilight.get_input_embeddings()
        embeds = torch.cat([embed(text_ids[:, :1]), tokens, embed(text_ids[:, 1:])], 1)
        return self.hilight.generate(inputs_embeds=embeds, do_sample=False, pad_token_id=0, **kwargs)

    def vision_tokens(self) -> int:
        config = self.hilight.config.clip_vip_config
        return config.num_prefix_tokens + self.hilight.config.num_frames * config.num_patches_per_frame


def video_llava(hilight: HiLightForConditionalGeneration, frames: int = 8) -> tuple[VideoLlavaForConditionalGeneration, int]:
    """transformers' Video-LLaVA with its published tower on `hilight`'s LLM (the same weights), and
    the parameter count a real checkpoint of it holds (two CLIP ViT-L/14 towers, projector, LLM).

    Built on the meta device and then given real towers, so the LLM is never allocated twice. The
    image tower is the video tower here (a video never uses it), but the count includes it."""
    text = hilight.config.text_config
    vision = dict(CLIP_VIT_L_14) if hilight.config.text_config.hidden_size > 64 else dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=16)
    config = VideoLlavaConfig(vision_config={"model_type": "clip_vision_model", **vision}, text_config=text.to_dict(),
                              image_token_index=text.vocab_size - 3, video_token_index=text.vocab_size - 2,
                              tie_word_embeddings=hilight.config.tie_word_embeddings)  # as its LLM (Gemma ties)  # fmt: skip
    with torch.device("meta"):
        model = VideoLlavaForConditionalGeneration(config)
    parameters = sum(p.numel() for p in model.parameters())
    torch.manual_seed(1)
    with torch.device("cpu"):
        tower = AutoModel.from_config(config.vision_config)
        projector = VideoLlavaMultiModalProjector(config)
    model.model.video_tower = model.model.image_tower = tower
    model.model.multi_modal_projector = projector
    model.model.language_model = hilight.model.language_model
    model.lm_head = hilight.lm_head
    model.to(hilight.dtype).eval()
    model.num_frames = frames
    return model, parameters


def video_llava_prompt(model: VideoLlavaForConditionalGeneration, text: torch.Tensor) -> torch.Tensor:
    tokens = model.num_frames * (model.config.vision_config.image_size // model.config.vision_config.patch_size) ** 2
    tokens += model.num_frames  # one CLS token a frame: the video path keeps them ("full" selection)
    placeholders = torch.full((1, tokens), model.config.video_token_index, device=text.device)
    return torch.cat([text[:, :1], placeholders, text[:, 1:]], 1)


class TokenClock(BaseStreamer):
    """When each new token came out of `generate` (the first `put` is the prompt)."""

    def __init__(self):
        self.start, self.times, self.prompt_seen = time.perf_counter(), [], False

    def put(self, value):
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self):
        pass

    def first_token(self) -> float:
        return self.times[0] - self.start

    def per_token(self) -> float:
        """Seconds a new token after the first."""
        return (self.times[-1] - self.times[0]) / (len(self.times) - 1)
