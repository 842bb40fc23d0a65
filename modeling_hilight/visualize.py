"""`hilight visualize VIDEO "TEXT"`: where each word of a text lands in the frames (CLIP-ViP+).

For each chosen word (default: every word the model's language mask keeps), in each sampled frame,
the cosine similarity between the word's local (SPARC) text feature and each of the frame's patch
features, upsampled to the frame and drawn as a heat map over it: the paper's maps. Writes an
animated GIF and an MP4 (one image per sampled frame: the frame, then one panel per word) and a
PNG grid of the keyframes; `similarity.json` holds each map's peak and range.

The model is a CLIP-ViP+ checkpoint (`--model`, or `--encoder`), or a HiLight checkpoint
(`--model`) whose video tower `model.clip_vip` is loaded into a CLIP-ViP+ given by `--encoder`
(the text tower comes from there). Default: the bundled encoder.

Python API: `load_encoder(model, encoder)`, `similarity_maps(clip_model, processor, video, text,
words=None)` -> `SimilarityMaps` (`.maps` [words, frames, grid, grid], `.frame_image(t)`,
`.save_gif`, `.save_mp4`, `.save_keyframes`, `.summary()`); `visualize(...)` is the command.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

WORD = re.compile(r"\w+")
PANEL_WIDTH = 320
LABEL_HEIGHT = 20


def load_encoder(model: str | None = None, encoder: str | None = None):
    """(CLIP-ViP+ model, its processor, notes) from the command's `--model` / `--encoder`."""
    from .bundled import bundled_folder, load_model, model_type_of
    from .evaluation import encoder_for

    if model is None:
        folder = encoder if encoder is not None else bundled_folder("clip_vip_plus")
        if model_type_of(folder) != "clip_vip_plus":
            raise ValueError(f"{folder}: --encoder must be a CLIP-ViP+ checkpoint (model_type clip_vip_plus).")
        clip_model, processor = load_model(folder)
        return clip_model, processor, []
    if model_type_of(model) == "clip_vip_plus":
        if encoder is not None:
            raise ValueError(f"{model} is a CLIP-ViP+ checkpoint already; --encoder is only for a HiLight --model.")
        clip_model, processor = load_model(model)
        return clip_model, processor, []
    if encoder is None:
        raise ValueError(f"{model} is a HiLight checkpoint: its video tower needs a CLIP-ViP+ text tower, "
                         f"pass --encoder FOLDER (a CLIP-ViP+ checkpoint).")  # fmt: skip
    hilight, _ = load_model(model)
    return encoder_for(hilight, encoder)


@dataclass
class SimilarityMaps:
    """Word-to-patch cosine similarities of one text and one video."""

    text: str
    words: list[str]
    maps: torch.Tensor  # [words, frames, grid, grid]
    frames: np.ndarray  # [frames, H, W, 3] uint8: the sampled frames as shown (the region the model saw)
    frame_indices: list[int]
    timestamps: list[float] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # each word's characters in `text`
    skipped: list[str] = field(default_factory=list)  # words with no token the tower reads (unknown, or cut off)
    colormap: str = "jet"

    def heat(self, word: int, frame: int, height: int, width: int) -> np.ndarray:
        """[height, width] in [0, 1]: map `word` of `frame` upsampled (bilinear) to the frame, scaled
        by the word's range over all frames, so that frames compare."""
        values = self.maps[word]
        low, high = float(values.min()), float(values.max())
        up = torch.nn.functional.interpolate(values[frame][None, None].float(), size=(height, width), mode="bilinear",
                                             align_corners=False)[0, 0]  # fmt: skip
        return ((up - low) / max(high - low, 1e-8)).clamp(0, 1).numpy()

    def panels(self, frame: int, width: int = PANEL_WIDTH) -> list[tuple[str, np.ndarray]]:
        """(label, [h, w, 3] uint8) for the frame and each word's overlay, `width` pixels wide."""
        from matplotlib import colormaps
        from PIL import Image

        image = self.frames[frame]
        height = max(2, round(image.shape[0] * width / image.shape[1]))
        plain = np.asarray(Image.fromarray(image).resize((width, height), Image.BICUBIC))
        stamp = f", {self.timestamps[frame]:.2f} s" if self.timestamps else ""
        out = [(f"frame {self.frame_indices[frame]}{stamp}", plain)]
        cmap = colormaps[self.colormap]
        for w, word in enumerate(self.words):
            colour = cmap(self.heat(w, frame, height, width))[..., :3] * 255
            out.append((word, (0.45 * plain + 0.55 * colour).round().astype(np.uint8)))
        return out

    def frame_image(self, frame: int, width: int = PANEL_WIDTH, columns: int = 4):
        """One image of the animation: the panels of `frame` in a grid with their labels (even size)."""
        from PIL import Image, ImageDraw, ImageFont

        panels = self.panels(frame, width)
        columns = min(columns, len(panels))
        rows = -(-len(panels) // columns)
        height = panels[0][1].shape[0] + LABEL_HEIGHT
        canvas = Image.new("RGB", (columns * width + (columns * width) % 2, rows * height + (rows * height) % 2), "white")
        draw = ImageDraw.Draw(canvas)
        try:
            font = ImageFont.load_default(size=14)
        except TypeError:  # Pillow without FreeType sizes
            font = ImageFont.load_default()
        for k, (label, pixels) in enumerate(panels):
            x, y = (k % columns) * width, (k // columns) * height
            draw.text((x + 4, y + 2), label, fill="black", font=font)
            canvas.paste(Image.fromarray(pixels), (x, y + LABEL_HEIGHT))
        return canvas

    def save_gif(self, path, seconds_per_frame: float = 0.6, **kwargs) -> Path:
        images = [self.frame_image(t, **kwargs) for t in range(len(self.frames))]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(seconds_per_frame * 1000), loop=0)
        return Path(path)

    def save_mp4(self, path, seconds_per_frame: float = 0.6, **kwargs) -> Path:
        """H.264 at 10 fps, each sampled frame held for `seconds_per_frame`."""
        from .training.billiards.render import write_mp4

        images = [np.asarray(self.frame_image(t, **kwargs)) for t in range(len(self.frames))]
        hold = max(1, round(seconds_per_frame * 10))
        write_mp4(np.stack([image for image in images for _ in range(hold)]), path, fps=10)
        return Path(path)

    def save_keyframes(self, path, columns: int = 4) -> Path:
        """A PNG grid of the sampled frames, each titled with its index and time."""
        from matplotlib.figure import Figure  # no pyplot: the caller's backend stays as it is

        count = len(self.frames)
        columns = min(columns, count)
        rows = -(-count // columns)
        aspect = self.frames.shape[1] / self.frames.shape[2]
        figure = Figure(figsize=(3 * columns, 3 * aspect * rows + 0.4))
        axes = figure.subplots(rows, columns, squeeze=False)
        for k, axis in enumerate(axes.flat):
            axis.axis("off")
            if k < count:
                axis.imshow(self.frames[k])
                stamp = f", {self.timestamps[k]:.2f} s" if self.timestamps else ""
                axis.set_title(f"frame {self.frame_indices[k]}{stamp}", fontsize=9)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        return Path(path)

    def summary(self) -> dict:
        """Per word and frame: the peak patch (row, column) and the similarity range."""
        grid = self.maps.shape[-1]
        out = {"text": self.text, "frame_indices": self.frame_indices, "timestamps": self.timestamps,
               "skipped": self.skipped, "words": []}  # fmt: skip
        for w, word in enumerate(self.words):
            flat = self.maps[w].flatten(1)
            peaks = flat.argmax(1).tolist()
            out["words"].append({"word": word, "peak": [[p // grid, p % grid] for p in peaks],
                                 "max": [round(float(v), 4) for v in flat.max(1).values],
                                 "min": [round(float(v), 4) for v in flat.min(1).values]})  # fmt: skip
        return out


def word_tokens(clip_model, tokenizer, text: str, tokens, offsets) -> list[tuple[str, tuple[int, int], list[int], bool]]:
    """(word, its character span, its token positions, kept by the language mask) for each word of `text`
    (`tokens` from `caption_batch`: `<bos> text <eos>`). A word that the tokenizer does not know
    (only special tokens) or that the length limit cut off has no positions."""
    config = clip_model.config
    if config.language_mask_policy == "stopwords" and not config.language_mask_token_ids:
        clip_model.use_tokenizer(tokenizer)  # a model saved without its stop-word ids
    kept = clip_model.language_mask(tokens["input_ids"], tokens["attention_mask"])[0].tolist()
    special = set(tokenizer.all_special_ids)
    ids, start = tokens["input_ids"][0].tolist(), len(tokenizer.bos_token) + 1
    out = []
    for match in WORD.finditer(text):
        first, last = start + match.start(), start + match.end()
        span = [t for t, (s, e) in enumerate(offsets) if e > s and s < last and e > first and ids[t] not in special]
        out.append((match.group(), match.span(), span, any(kept[t] for t in span)))
    return out


def display_frames(video, metadata: dict, processor) -> np.ndarray:
    """The sampled frames at their own size, cut to what the model saw (the centre square for
    `resize_mode="crop"`; the whole frame, squashed by the model, otherwise)."""
    from .processing import decode_video

    frames, _, _ = decode_video(video, None, "indices", indices=metadata["frames_indices"])
    if processor.video_processor.resize_mode == "crop":
        height, width = frames.shape[1:3]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        frames = frames[:, top : top + side, left : left + side]
    return np.ascontiguousarray(frames)


@torch.no_grad()
def similarity_maps(clip_model, processor, video, text: str, words: list[str] | None = None) -> SimilarityMaps:
    """The maps of `words` (default: the words the language mask keeps) of `text` over `video`'s sampled frames.
    A chosen word that is not in the text is an error naming it; each occurrence of a word gets its map."""
    from .evaluation import _check_sizes, local_features
    from .training.collator import caption_batch

    _check_sizes(clip_model, processor)
    tokenizer = processor.tokenizer
    pixels = processor.video_processor([video], return_metadata=True)
    tokens = caption_batch(tokenizer, [text], return_offsets_mapping=True)
    offsets = tokens.pop("offset_mapping")[0].tolist()
    found = word_tokens(clip_model, tokenizer, text, tokens, offsets)
    skipped = [w for w, _, span, _ in found if not span]
    found = [f for f in found if f[2]]
    if words is None:
        chosen = [(w, where, span) for w, where, span, kept in found if kept]
        if not chosen:
            raise ValueError(f"the language mask keeps no word of {text!r}; name words with --words.")
    else:
        wanted = [w.lower() for w in words]
        missing = [w for w in words if w.lower() not in {f[0].lower() for f in found}]
        if missing:
            raise ValueError(f"{', '.join(map(repr, missing))}: not among the words of {text!r} that the text tower "
                             f"reads: {[f[0] for f in found]}" + (f" (unknown to its tokenizer or cut off: {skipped})"
                                                                  if skipped else "") + ".")  # fmt: skip
        chosen = [(w, where, span) for w, where, span, _ in found if w.lower() in wanted]
    device = clip_model.device
    video_out = clip_model.vision_model(pixels["pixel_values_videos"].to(device, clip_model.dtype),
                                        output_hidden_states=True)  # fmt: skip
    text_out = clip_model.text_model(**{k: v.to(device) for k, v in tokens.items()}, output_hidden_states=True,
                                     return_dict=True)  # fmt: skip
    token_features, patches = local_features(clip_model, text_out, video_out)
    vision = clip_model.config.vision_config
    grid = vision.image_size // vision.patch_size
    patches = patches[0].view(-1, vision.num_patches_per_frame, patches.shape[-1])  # [frames, L, D]
    maps = []
    for _, _, span in chosen:
        feature = torch.nn.functional.normalize(token_features[0, span].mean(0), dim=-1)
        maps.append((patches @ feature).view(-1, grid, grid))
    metadata = pixels["video_metadata"][0]
    counts = {w: sum(c[0] == w for c in chosen) for w, _, _ in chosen}
    seen: dict[str, int] = {}
    labels = []
    for w, _, _ in chosen:  # "red", or "red (2)" for a second occurrence
        seen[w] = seen.get(w, 0) + 1
        labels.append(w if counts[w] == 1 else f"{w} ({seen[w]})")
    return SimilarityMaps(text, labels, torch.stack(maps).float().cpu(), display_frames(video, metadata, processor),
                          list(metadata["frames_indices"]), [round(float(s), 3) for s in metadata.get("timestamps") or []],
                          [where for _, where, _ in chosen], skipped)  # fmt: skip


def visualize(video: str, text: str, *, model: str | None = None, encoder: str | None = None,
              words: list[str] | None = None, out: str = "similarity", mp4: bool = True) -> dict:  # fmt: skip
    """The whole command; returns `{"files": [...], "notes": [...], **maps.summary()}`."""
    clip_model, processor, notes = load_encoder(model, encoder)
    notes = [n.replace("retrieval and grounding:", "similarity maps:") for n in notes]  # evaluation's wording
    maps = similarity_maps(clip_model, processor, video, text, words)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = [maps.save_gif(folder / "similarity.gif")]
    if mp4:
        files.append(maps.save_mp4(folder / "similarity.mp4"))
    files.append(maps.save_keyframes(folder / "keyframes.png"))
    summary = maps.summary()
    (folder / "similarity.json").write_text(json.dumps(summary, indent=1))
    files.append(folder / "similarity.json")
    return {"files": [str(f) for f in files], "notes": notes, **summary}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="a video file")
    parser.add_argument("text", help='the text whose words are mapped, e.g. "the red 3 goes into the corner pocket"')
    parser.add_argument("--words", nargs="+", help="map only these words of the text (default: those the language mask keeps)")
    parser.add_argument("--model", help="a CLIP-ViP+ or HiLight checkpoint folder (default: the bundled encoder)")
    parser.add_argument("--encoder", help="a CLIP-ViP+ folder: the text tower for a HiLight --model, or the model itself")
    parser.add_argument("--out", default="similarity", help="output folder (default: ./similarity)")
    parser.add_argument("--no-mp4", action="store_true", help="write the GIF and the PNG only")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def run(args: argparse.Namespace) -> int:
    from .cli import quiet_libraries, report_error

    quiet_libraries()
    try:
        result = visualize(args.video, args.text, model=args.model, encoder=args.encoder, words=args.words,
                           out=args.out, mp4=not args.no_mp4)  # fmt: skip
    except Exception as error:  # one line on stderr, the traceback with --debug
        return report_error("visualize", error, args.debug)
    for note in result["notes"]:
        print(note)
    if result["skipped"]:
        print(f"not mapped (unknown to the tokenizer or cut off): {', '.join(result['skipped'])}")
    print(f"words: {', '.join(w['word'] for w in result['words'])}; {len(result['frame_indices'])} frames")
    print("wrote " + ", ".join(result["files"]))
    return 0


__all__ = ["SimilarityMaps", "load_encoder", "similarity_maps", "visualize"]
