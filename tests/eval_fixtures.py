"""A small billiards data set with an untrained tiny HiLight and CLIP-ViP+ saved beside it, each
with its processor: what `hilight eval`, `chat` and `demo` load (the bundled model's layout)."""

from pathlib import Path

import torch

from modeling_hilight import (
    CLIPViPPlusConfig, CLIPViPPlusModel, HiLightConfig, HiLightForConditionalGeneration, HiLightProcessor,
    HiLightVideoProcessor, build_hilight_tokenizer,
)  # fmt: skip
from modeling_hilight.training.billiards import load_billiards, make_dataset

FRAMES, SIZE = 4, 32


def texts(data) -> list[str]:
    out = []
    for split in data.values():
        for row in split:
            out += row["captions"] + [b["text"] for m in row["messages"] for b in m["content"] if b.get("text")]
    return out


def tiny_checkpoints(folder: Path, data_folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """(hilight folder, clip_vip_plus folder); the HiLight's video tower is the encoder's."""
    tokenizer = build_hilight_tokenizer(texts(load_billiards(data_folder)))
    processor = HiLightProcessor(HiLightVideoProcessor(size=SIZE, num_frames=FRAMES, num_decode_threads=2), tokenizer,
                                 queries_per_frame=2)  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=SIZE,
                  patch_size=8)  # fmt: skip
    torch.manual_seed(seed)
    encoder = CLIPViPPlusModel(CLIPViPPlusConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id),
        vision_config={**vision, "temporal_size": FRAMES}, projection_dim=16)).eval()  # fmt: skip
    model = HiLightForConditionalGeneration(HiLightConfig.tiny(
        clip_vip_config=encoder.vision_model.config.to_dict(), long_clip_config=vision,
        text_config=dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, initializer_range=0.2,
                         eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]),
        video_token_id=processor.video_token_id, num_frames=FRAMES, queries_per_frame=2)).eval()  # fmt: skip
    model.model.clip_vip.load_state_dict(encoder.vision_model.state_dict())
    # A random model may end (or say only special tokens) at once, which decodes to "": keep its answers
    # non-empty, whatever pixels it sees, so the snippets' tests can check that an answer was printed.
    ends = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    model.generation_config.begin_suppress_tokens = ends
    model.generation_config.suppress_tokens = [i for i in tokenizer.all_special_ids if i not in ends]
    paths = folder / "hilight", folder / "clip_vip_plus"
    for path, net in zip(paths, (model, encoder)):
        net.save_pretrained(path)
        processor.save_pretrained(path)
    return paths


def billiards(folder: Path, clips: int = 30, **kwargs) -> Path:
    make_dataset(folder, clips, width=64, height=32, workers=1, progress=False, **kwargs)
    return folder
