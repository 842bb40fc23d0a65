"""Decoding and frame sampling for HiLight: only the sampled frames are ever decoded and kept.

Two decoders, the same pixels: decord, and PyAV, which seeks to the keyframe before each group of
sampled frames and keeps only those, so memory is bounded by the sampled frames, never by the
length or resolution of the video. PyAV converts (and scales) each frame through the very FFmpeg
filter chain decord uses, so both give the same frames, and `choose_backend` can pick the faster
one per file from what the probe reads (codec, keyframes, frames sampled). PyAV also takes over
when decord cannot be imported on a platform or fails on a file (the reason is logged once per
reason). A file is first probed with PyAV's container reader, so non-video files get a clear
error instead of reaching a decoder.

Frames come upright: the rotation in a container's display matrix (phone videos) is applied by
both, by transposing before the scale. (decord 0.6 cannot return a 90- or 270-degree turned frame
at its own size: it fails there and PyAV takes over.)

Every failure is a `VideoDecodeError` (a `ValueError`) whose message names the file and the reason.
"""

from __future__ import annotations

import bisect
import io
import logging
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

logger = logging.getLogger(__name__)

SAMPLING_STRATEGIES = ("uniform", "jitter", "fps", "indices")
PYAV_THREAD_TYPE = "AUTO"  # FFmpeg's frame threads as well as slice threads (PyAV's default is slice threads only)
_logged_reasons: set[str] = set()


class VideoDecodeError(ValueError):
    """A video that cannot be used; `source` is the file (or input kind) and `reason` says why."""

    def __init__(self, source: str, reason: str):
        self.source, self.reason = source, reason
        super().__init__(f"{source}: {reason}")


@dataclass
class VideoMetadata:
    """What is known about a decoded video and the frames taken from it."""

    source: str
    total_num_frames: int
    fps: float | None
    duration: float | None
    width: int
    height: int
    frames_indices: list[int] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    backend: str = "array"

    def to_dict(self) -> dict:
        return asdict(self)


# -- sampling ---------------------------------------------------------------------------------


def sample_indices(
    total_frames: int,
    num_frames: int | None = None,
    strategy: str = "uniform",
    *,
    fps: float | None = None,
    video_fps: float | None = None,
    indices: list[int] | None = None,
    rng: np.random.Generator | None = None,
    source: str = "video",
) -> np.ndarray:
    """Frame indices to decode.

    * `uniform`: `linspace(0, n - 1, num_frames).astype(int)`, truncated, as HiLight's and
      CLIP-ViP's code take it (rounding would change 5 of 12 indices on a 90-frame clip).
    * `jitter`: CLIP-ViP's training rule (XPretrain `dataset_video_retrieval.py`; HiLight itself
      never jitters): with `interval = n // (num_frames - 1)`, the start is drawn from
      `0..interval` and the end from `n - 1 - interval..n - 1`, then `linspace(start, end).astype(int)`.
      (With 1 or 2 frames the interval spans the whole clip; the bounds are then kept inside it and in order.)
    * `fps`: one frame every `1 / fps` seconds of a `video_fps` video; at most `num_frames` of
      them, taken uniformly, when given.
    * `indices`: exactly the given indices.
    A video with fewer frames than asked repeats frames by the same rule; it never fails for that.
    """
    if total_frames < 1:
        raise VideoDecodeError(source, "the video has no decodable frames.")
    if strategy == "indices":
        if not indices:
            raise ValueError("sampling='indices' needs a non-empty `indices` list.")
        out = np.asarray(indices, dtype=np.int64)
        bad = out[(out < 0) | (out >= total_frames)]
        if bad.size:
            raise VideoDecodeError(source, f"frame indices {bad.tolist()} are outside 0..{total_frames - 1}.")
        return out
    if strategy == "fps":
        if not fps or fps <= 0:
            raise ValueError(f"sampling='fps' needs a positive `fps`, got {fps!r}.")
        if not video_fps:
            raise VideoDecodeError(source, "sampling by fps needs the video's frame rate, which it does not store.")
        out = np.arange(0, total_frames, video_fps / fps).round().astype(np.int64).clip(0, total_frames - 1)
        if num_frames and len(out) > num_frames:
            out = out[np.linspace(0, len(out) - 1, num_frames).astype(np.int64)]
        return out
    if not num_frames or num_frames < 1:
        raise ValueError(f"num_frames must be a positive integer, got {num_frames!r}.")
    start, end = 0, total_frames - 1
    if strategy == "jitter":
        rng = rng or np.random.default_rng()
        interval = total_frames // max(num_frames - 1, 1)
        start = int(rng.integers(0, interval + 1))
        end = int(rng.integers(total_frames - 1 - interval, total_frames))
        start, end = sorted((min(start, total_frames - 1), max(end, 0)))
    elif strategy != "uniform":
        raise ValueError(f"unknown sampling strategy {strategy!r}; choose one of {SAMPLING_STRATEGIES}.")
    return np.linspace(start, end, num_frames).astype(np.int64)


# -- inputs -----------------------------------------------------------------------------------


def describe(video) -> str:
    if isinstance(video, (str, os.PathLike)):
        return os.fspath(video)
    if isinstance(video, (bytes, bytearray)):
        return f"<{len(video)} bytes>"
    return f"<{type(video).__name__}>"


def _read_source(video) -> tuple[str, str | io.BytesIO]:
    """(name for messages, a path or an in-memory file) for a path, bytes or a file object."""
    if isinstance(video, (str, os.PathLike)):
        path = os.fspath(video)
        if not os.path.exists(path):
            raise VideoDecodeError(path, "no such file.")
        if os.path.isdir(path):
            raise VideoDecodeError(path, "is a folder, not a video file.")
        if os.path.getsize(path) == 0:
            raise VideoDecodeError(path, "the file is empty.")
        return path, path
    if isinstance(video, (bytes, bytearray)):
        if not video:
            raise VideoDecodeError("<bytes>", "no bytes given.")
        return describe(video), io.BytesIO(bytes(video))
    if hasattr(video, "read"):
        data = video.read()
        name = getattr(video, "name", None) or "<file object>"
        if not data:
            raise VideoDecodeError(str(name), "the file object is empty.")
        return str(name), io.BytesIO(data)
    raise TypeError(f"cannot read a video from {type(video).__name__}; pass a path, bytes, a file object or frames.")


@dataclass
class VideoInfo:
    """What the container says about a video's first video stream, read without decoding pictures.
    `keyframes`: the positions of its keyframes among the frames, when the container's index or
    its packets say (None otherwise)."""

    frames: int
    fps: float | None
    duration: float | None
    width: int
    height: int
    codec: str = ""
    container: str = ""
    keyframes: list[int] | None = None


def _probe(name: str, source) -> VideoInfo:
    import av

    try:
        with av.open(source, "r") as container:
            if container.format.name.endswith("_pipe") or container.format.name.startswith("image2"):
                raise VideoDecodeError(name, f"is a still image ({container.format.name}), not a video.")
            streams = container.streams.video
            if not streams:
                kinds = sorted({s.type for s in container.streams}) or ["none"]
                raise VideoDecodeError(name, f"has no video stream (streams: {', '.join(kinds)}).")
            stream = streams[0]
            fps = float(stream.average_rate) if stream.average_rate else None
            frames, keyframes = stream.frames, None
            index = stream.index_entries  # MP4/MOV: every frame's entry, from the header (nothing read)
            if frames and len(index) == frames:
                keyframes = [i for i, entry in enumerate(index) if entry.is_keyframe]
            elif not frames:  # some containers do not store a count: count packets (no decoding)
                flags = [p.is_keyframe for p in container.demux(stream) if p.size]
                frames, keyframes = len(flags), [i for i, key in enumerate(flags) if key]
            duration = float(stream.duration * stream.time_base) if stream.duration else None
            if duration is None and fps and frames:
                duration = frames / fps
            context = stream.codec_context
            return VideoInfo(int(frames), fps, duration, context.width, context.height, context.codec.canonical_name,
                             container.format.name, keyframes)  # fmt: skip
    except VideoDecodeError:
        raise
    except Exception as error:  # PyAV raises a family of FFmpeg errors
        raise VideoDecodeError(name, f"not a readable video file ({type(error).__name__}: {error}).") from error
    finally:
        if isinstance(source, io.BytesIO):
            source.seek(0)


def probe_video(video) -> VideoMetadata:
    """What the container says about a video file (frames, fps, duration, size), without decoding
    a picture; a VideoDecodeError names the file and the reason when it is not a usable video."""
    name, source = _read_source(video)
    info = _probe(name, source)
    if info.frames < 1:
        raise VideoDecodeError(name, "the video has no decodable frames.")
    return VideoMetadata(name, info.frames, info.fps, info.duration, info.width, info.height, backend="probe")


def video_info(video) -> VideoInfo:
    """`VideoInfo` of a path, bytes or a file object (a `VideoDecodeError` names the file and the reason)."""
    return _probe(*_read_source(video))


# -- which decoder --------------------------------------------------------------------------------

# Codecs the FFmpeg inside decord 0.6's wheels cannot decode (no AV1 software decoder).
DECORD_CANNOT_DECODE = {"av1"}


def choose_backend(info: VideoInfo, indices: np.ndarray) -> str:
    """The faster decoder for this file and these frames, "decord" or "pyav"; the frames are the same
    either way. From benchmarks/decoder_grid.py (H.264, HEVC, VP9, AV1; 360p to 1080p; keyframes every
    6 frames to one a clip; 12 and 48 frames from 10 s and 5 min clips, on 2 CPU cores; the tables are
    in benchmarks/decoder_grid.md): PyAV with FFmpeg's frame threads took about 0.55 to 0.95 of
    decord's time on H.264 and HEVC at every size and keyframe interval (single cells above 1 did not
    repeat), and on VP9 below 720p or with keyframes at least every 2 s; on VP9 of 720p and more with
    longer keyframe intervals the two were within 10 %, decord ahead more often than not. AV1 only
    PyAV decodes. The number of frames sampled did not change the winner."""
    if info.codec in DECORD_CANNOT_DECODE:
        return "pyav"
    if info.codec == "vp9" and min(info.width, info.height) >= 720 and _keyframe_interval(info) > 2 * (info.fps or 24):
        return "decord"
    return "pyav"


def _keyframe_interval(info: VideoInfo) -> float:
    """Frames per keyframe (the whole clip when the container does not say)."""
    return info.frames / len(info.keyframes) if info.keyframes else float(info.frames)


def _log_once(reason: str) -> None:
    if reason not in _logged_reasons:
        _logged_reasons.add(reason)
        logger.warning("decord unavailable or failing, using PyAV instead: %s", reason)


def _decode_decord(source, indices: np.ndarray, size: int | None) -> tuple[np.ndarray, list[float]]:
    import decord

    shape = {"width": size, "height": size} if size else {}
    reader = decord.VideoReader(source, ctx=decord.cpu(0), **shape)
    if len(reader) <= int(indices.max()):
        raise RuntimeError(f"decord sees {len(reader)} frames, fewer than index {int(indices.max())}")
    frames = reader.get_batch(indices.tolist()).asnumpy()
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise RuntimeError(f"decord returned frames of shape {frames.shape}")
    stamps = [float(t[0]) for t in reader.get_frame_timestamp(indices.tolist())]
    return frames, stamps


def _frame_table(container, stream) -> tuple[list[int], list[int]] | None:
    """Presentation timestamps of every frame, in order, and those of the keyframes, read from the
    packets without decoding; None when the packets do not say (no or repeated timestamps)."""
    stamps, keys = [], []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the flush packet at the end
        if packet.pts is None:
            return None
        stamps.append(packet.pts)
        if packet.is_keyframe:
            keys.append(packet.pts)
    stamps.sort()
    if not keys or len(set(stamps)) != len(stamps):
        return None
    return stamps, sorted(keys)


def _frames_after(container, stream, seek_pts: int | None, errors: list[str]):
    """Decoded frames from the keyframe at or before `seek_pts` (None: from where the container
    is); a damaged packet is skipped and reported in `errors`."""
    if seek_pts is not None:
        container.seek(seek_pts, stream=stream, backward=True)
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except Exception as error:  # a damaged packet: skip it, keep going, report at the end
            errors.append(f"{type(error).__name__}: {error}")


class DecordConversion:
    """A decoded PyAV frame -> upright uint8 RGB `[H, W, 3]`, pixel for pixel what decord gives.

    decord passes each frame through the FFmpeg filter chain `[transpose,]scale=W:H` into RGB24, with
    the scale filter's default flags of its FFmpeg 4 (bilinear), where W x H is the size asked for (or
    the picture's own). The same chain here gives the same pixels, so a file's frames do not depend on
    which decoder read it. (PyAV's `to_ndarray(width=, height=)` scales with other swscale flags and
    differs by a few grey levels.) The chain is built on the first frame, whose rotation it applies
    (the display matrix, counter-clockwise degrees) as decord does, by transposing before scaling."""

    TURNS = {1: ["transpose=2"], 2: ["transpose=1", "transpose=1"], 3: ["transpose=1"]}

    def __init__(self, size: int | None = None):
        self.size, self.graph, self.key = size, None, None

    def __call__(self, frame) -> np.ndarray:
        turns = round(getattr(frame, "rotation", 0) / 90) % 4
        key = (frame.width, frame.height, frame.format.name, turns)
        if key != self.key:
            self.graph, self.key = self._build(frame, turns), key
        self.graph.push(frame)
        return self.graph.pull().to_ndarray()

    def _build(self, frame, turns: int):
        import av

        width, height = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
        if self.size:
            width = height = self.size
        graph = av.filter.Graph()
        chain = [graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name,
                                  time_base=frame.time_base or Fraction(1, 1000))]  # fmt: skip
        for step in self.TURNS.get(turns, []):
            chain.append(graph.add("transpose", step.split("=")[1]))
        chain += [graph.add("scale", f"{width}:{height}:flags=bilinear"), graph.add("format", "rgb24"),
                  graph.add("buffersink")]  # fmt: skip
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        graph.configure()
        return graph


def _decode_pyav(name: str, source, indices: np.ndarray, size: int | None) -> tuple[np.ndarray, list[float]]:
    """Keep only the wanted frames. When the packets give every frame's timestamp, seek to the
    keyframe before each group of wanted frames and decode from there (as decord does); otherwise
    decode in order from the start. Either way, stop after the last wanted frame."""
    import av

    wanted = sorted(set(indices.tolist()))
    kept: dict[int, tuple[np.ndarray, float]] = {}
    errors: list[str] = []
    to_rgb = DecordConversion(size)

    def keep(index: int, frame) -> None:
        kept[index] = (to_rgb(frame), float(frame.time or 0.0))

    try:
        with av.open(source, "r") as container:
            stream = container.streams.video[0]
            stream.thread_type = PYAV_THREAD_TYPE
            table = _frame_table(container, stream)
            if table is not None and len(table[0]) > wanted[-1]:
                stamps, keyframes = table
                groups: dict[int, list[int]] = {}  # keyframe pts -> the wanted frames decoded from it
                for i in wanted:
                    start = keyframes[max(bisect.bisect_right(keyframes, stamps[i]) - 1, 0)]
                    groups.setdefault(start, []).append(i)
                for start, group in groups.items():
                    targets = {stamps[i]: i for i in group}
                    for frame in _frames_after(container, stream, start, errors):
                        if frame.pts in targets:
                            keep(targets[frame.pts], frame)
                        if frame.pts is not None and frame.pts >= stamps[group[-1]]:
                            break
            missing = [i for i in wanted if i not in kept]
            if missing:  # no usable timestamps, or a seek that landed past a frame: decode in order
                container.seek(0)
                for position, frame in enumerate(_frames_after(container, stream, None, errors)):
                    if position in missing:
                        keep(position, frame)
                    if position >= missing[-1]:
                        break
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        if isinstance(source, io.BytesIO):
            source.seek(0)
    if not kept and errors:
        raise VideoDecodeError(name, f"decoding failed ({errors[0]}).")
    if not kept:
        raise VideoDecodeError(name, "no frame could be decoded.")
    # A stream cut short decodes fewer frames than its header promised: an index past the end takes
    # the last frame before it, so the output keeps its length; this is logged, never silent.
    available = sorted(kept)
    missing = sorted(set(wanted) - set(kept))
    if missing:
        logger.warning("%s: frames %s could not be decoded (the stream ends early); repeating frame %d instead",
                       name, missing, available[-1])  # fmt: skip

    def nearest(i: int) -> tuple[np.ndarray, float]:
        before = [k for k in available if k <= i]
        return kept[before[-1] if before else available[0]]

    frames = [nearest(i) for i in indices.tolist()]
    return np.stack([f for f, _ in frames]), [t for _, t in frames]


def decode_video(
    video,
    num_frames: int | None = 12,
    sampling: str = "uniform",
    *,
    fps: float | None = None,
    indices: list[int] | None = None,
    rng: np.random.Generator | None = None,
    backend: str = "auto",
    video_fps: float | None = None,
    num_keyframes: int | None = None,
    decode_size: int | None = None,
) -> tuple[np.ndarray, VideoMetadata, np.ndarray | None]:
    """Sampled frames `[T, H, W, 3]` uint8 and their metadata, from a path, bytes, a file object,
    a `[T, H, W, 3]` uint8 array or tensor, or a list of `[H, W, 3]` frames (`video_fps` gives
    the frame rate of frames passed as arrays).

    With `num_keyframes`, also `num_keyframes` uniformly sampled keyframes for the Long-CLIP tower
    (third value; None otherwise); the union of both index sets is decoded once.

    `decode_size` makes the decoder itself scale files to `decode_size x decode_size` (decord's FFmpeg
    filter chain, `scale` with its bilinear default, as the frames are converted to RGB): the squash
    resize at almost no cost. decord and PyAV give the same pixels, so `backend` never changes them;
    "auto" picks the faster decoder for the file (`choose_backend`), PyAV when decord fails.
    Frames given as arrays are returned at their own size."""
    if _is_frames(video):
        frames = _as_frame_array(video)
        chosen = sample_indices(len(frames), num_frames, sampling, fps=fps, video_fps=video_fps, indices=indices,
                                rng=rng, source="<frames>")  # fmt: skip
        duration = len(frames) / video_fps if video_fps else None
        stamps = [i / video_fps for i in chosen.tolist()] if video_fps else []
        meta = VideoMetadata("<frames>", len(frames), video_fps, duration, frames.shape[2], frames.shape[1],
                             chosen.tolist(), stamps, "array")  # fmt: skip
        keys = sample_indices(len(frames), num_keyframes) if num_keyframes else None
        return frames[chosen], meta, (frames[keys] if keys is not None else None)

    name, source = _read_source(video)
    info = _probe(name, source)
    total, video_fps, duration, width, height = info.frames, info.fps, info.duration, info.width, info.height
    chosen = sample_indices(total, num_frames, sampling, fps=fps, video_fps=video_fps, indices=indices, rng=rng,
                            source=name)  # fmt: skip
    keys = sample_indices(total, num_keyframes, source=name) if num_keyframes else np.zeros(0, dtype=np.int64)
    union = np.unique(np.concatenate([chosen, keys]))
    used = "pyav"
    frames = stamps = None
    if backend == "auto" and choose_backend(info, union) == "pyav":
        try:
            return _assemble(info, name, *_decode_pyav(name, source, union, decode_size), union, chosen, keys,
                             num_keyframes, "pyav")  # fmt: skip
        except VideoDecodeError as error:  # decord may still read it; if not, this is the error to give
            pyav_error = error
            logger.warning("PyAV failed on %s (%s); trying decord", name, error.reason)
        try:
            return _assemble(info, name, *_decode_decord(source, union, decode_size), union, chosen, keys,
                             num_keyframes, "decord")  # fmt: skip
        except Exception:
            raise pyav_error from None
        finally:
            if isinstance(source, io.BytesIO):
                source.seek(0)
    if backend in ("auto", "decord"):
        try:
            frames, stamps = _decode_decord(source, union, decode_size)
            used = "decord"
        except ImportError as error:
            if backend == "decord":
                raise
            _log_once(f"decord cannot be imported ({error})")
        except Exception as error:  # decord raises its own error types on odd files
            if backend == "decord":
                raise VideoDecodeError(name, f"decord failed ({error}).") from error
            _log_once(f"decord failed on {name} ({type(error).__name__}: {str(error).splitlines()[0][:200]})")
        finally:
            if isinstance(source, io.BytesIO):
                source.seek(0)
    if frames is None:
        frames, stamps = _decode_pyav(name, source, union, decode_size)
    return _assemble(info, name, frames, stamps, union, chosen, keys, num_keyframes, used)


def _assemble(info: VideoInfo, name: str, frames: np.ndarray, stamps: list[float], union: np.ndarray,
              chosen: np.ndarray, keys: np.ndarray, num_keyframes: int | None, used: str):  # fmt: skip
    """decode_video's result from the decoded union of the clip's and the keyframes' indices."""
    position = {index: row for row, index in enumerate(union.tolist())}
    clip_rows = [position[i] for i in chosen.tolist()]
    meta = VideoMetadata(name, info.frames, info.fps, info.duration, info.width, info.height, chosen.tolist(),
                         [stamps[r] for r in clip_rows], used)  # fmt: skip
    keyframes = frames[[position[i] for i in keys.tolist()]] if num_keyframes else None
    if clip_rows != list(range(len(frames))):  # no copy when the decoded frames are exactly the clip
        frames = frames[clip_rows]
    return frames, meta, keyframes


def _is_frames(video) -> bool:
    if isinstance(video, np.ndarray):
        return True
    if type(video).__module__.startswith("torch"):
        return True
    return isinstance(video, (list, tuple)) and len(video) > 0 and not isinstance(video[0], (str, bytes, os.PathLike))


def _as_frame_array(video) -> np.ndarray:
    if isinstance(video, (list, tuple)):
        shapes = {tuple(np.asarray(f).shape) for f in video}
        if len(shapes) != 1:
            raise VideoDecodeError("<frames>", f"frames of different shapes {sorted(shapes)}.")
        video = np.stack([np.asarray(f) for f in video])
    elif not isinstance(video, np.ndarray):
        video = video.detach().cpu().numpy()
    if video.ndim != 4 or video.shape[-1] != 3:
        raise VideoDecodeError("<frames>", f"expected [T, H, W, 3] frames, got shape {tuple(video.shape)}.")
    if video.shape[0] == 0:
        raise VideoDecodeError("<frames>", "zero frames given.")
    if video.dtype != np.uint8:
        raise VideoDecodeError("<frames>", f"expected uint8 RGB frames, got {video.dtype}.")
    return video


__all__ = ["SAMPLING_STRATEGIES", "VideoDecodeError", "VideoInfo", "VideoMetadata", "choose_backend", "decode_video",
           "probe_video", "sample_indices", "video_info"]
