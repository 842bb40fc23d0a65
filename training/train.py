"""`hilight train encoder|align|instruct --config RECIPE.yaml [--key value ...]`: the paper's three stages.

A recipe is one flat YAML: the `HiLightRecipe` fields below plus the Trainer's own
(`TrainingArguments`, or TRL's `SFTConfig` for `instruct`), parsed by `HfArgumentParser`.

* encoder:  CLIPViPPlusModel on video-caption pairs, global + local loss (transformers.Trainer); the
            language mask takes pad/eos and its stop-word ids from the recipe's tokenizer, and
            `logit_scale` is clamped after every optimiser step, as in CLIP-ViP.
* align:    HiLightForConditionalGeneration, towers and LLM frozen, token mining trains (Trainer).
* instruct: TRL SFTTrainer with a PEFT LoRA on the LLM only (regex over its Linear layers), token
            mining optionally trainable alongside, loss on the answers only; the merged model is
            saved to `output_dir/merged` (a standalone checkpoint).
Every stage uses our collators (training/collator.py), writes `loss_curve.png` and
`skipped_samples.json`, and saves the processor next to the model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from transformers import HfArgumentParser, Trainer, TrainerCallback, TrainingArguments, set_seed

from ..conversion_utils import load_state_dict_strictly
from ..processing import HiLightProcessor, HiLightVideoProcessor, build_hilight_tokenizer
from .callbacks import QACurveCallback, SkippedSamples, SkippedSamplesCallback, plot_loss_curve, use_stage_progress
from .collator import VideoCaptionCollator, VideoChatCollator
from .data import load_training_data

logger = logging.getLogger(__name__)
STAGES = ("encoder", "align", "instruct")


@dataclass
class HiLightRecipe:
    data: str = field(metadata={"help": "a `datasets` folder (e.g. `hilight data` output) or LLaVA-style JSON"})
    video_root: str | None = field(default=None, metadata={"help": "folder that relative video paths start from"})
    model: str = field(default="tiny", metadata={"help": "'tiny' (new tiny model) or a checkpoint folder"})
    tokenizer: str | None = field(default=None, metadata={"help": "a tokenizer folder; default: built from the data"})
    clip_vip_path: str | None = field(default=None, metadata={"help": "align/instruct: a CLIP-ViP+ checkpoint "
                                                                         "(the encoder stage's output) for the tower"})
    num_frames: int = 12
    image_size: int = 32
    image_mean: list[float] | None = field(default=None, metadata={"help": "per-channel mean of the frames; "
                                             "default: CLIP's (the billiards recipes use the data's own)"})
    image_std: list[float] | None = None
    decode_backend: str = field(default="auto", metadata={"help": "auto (decord, PyAV fallback) | decord | pyav; "
                                "PyAV decodes small clips about 3x faster than decord"})
    patch_size: int = field(default=8, metadata={"help": "'tiny' only: the towers' patch size"})
    vision_width: int = field(default=32, metadata={"help": "'tiny' only: width of the towers"})
    vision_layers: int = field(default=0, metadata={"help": "'tiny' only: layers of the towers (0: 2 for the "
                                                     "encoder stage, 1 for a new HiLight's towers)"})
    text_width: int = field(default=32, metadata={"help": "'tiny' only: width of CLIP-ViP+'s text tower"})
    llm_width: int = field(default=64, metadata={"help": "'tiny' only: width of the new LLM"})
    llm_layers: int = field(default=2, metadata={"help": "'tiny' only: layers of the new LLM"})
    projection_dim: int = field(default=32, metadata={"help": "'tiny' only: CLIP-ViP+'s shared embedding width"})
    grounding_loss_weight: float = field(default=0.0, metadata={"help": "encoder: weight of the supervised "
                                         "grounding loss on the world's ball positions (not in the paper)"})
    patch_scope: str = "clip"
    language_mask_policy: str | None = field(default=None, metadata={"help": "encoder: which tokens leave the "
                                             "local loss (special_tokens | stopwords | token_ids); default: the "
                                             "model's ('stopwords', the paper's language mask)"})
    long_clip_from_clip_vip: bool = field(default=False, metadata={"help": "align: start Long-CLIP from the "
                                          "CLIP-ViP+ tower's image transformer (no pretrained Long-CLIP here)"})
    train_language_model: bool = field(default=False, metadata={"help": "align: the LLM trains too (a new, "
                                       "untrained LLM; the reference freezes its pretrained Gemma)"})
    token_mining_attention: str = "clip"
    blank_tower: str = field(default="none", metadata={"help": "align/instruct ablation: 'clip_vip' or "
                             "'long_clip' gets zeros for pixels (a uniform frame of the normalisation mean), "
                             "so the vision tokens come from the other tower alone; 'both' leaves the LLM "
                             "blind; 'none' (default)"})
    language_model_from: str | None = field(default=None, metadata={"help": "align: a new ('tiny') model's LLM "
                                            "starts from this HiLight checkpoint's (strictly loaded; give the "
                                            "checkpoint as `tokenizer` too, so the vocabularies agree)"})
    qa_curve_every: int = field(default=0, metadata={"help": "align/instruct: every N steps, QA accuracy on "
                                "validation questions with the right clip and another clip (0: never)"})
    qa_curve_questions: int = 48
    query_grounding_loss_weight: float = field(default=0.0, metadata={"help": "align/instruct: weight of the supervised "
                                               "loss that teaches token mining's queries where each ball is "
                                               "(frame-local improved variant; not in the paper)"})
    sampling: str = field(default="uniform", metadata={"help": "uniform (the reference) | jitter (CLIP-ViP's training rule)"})
    cache_videos: bool = field(default=False, metadata={"help": "keep each clip's decoded frames in memory after "
                               "its first decode (uniform sampling only; the same pixels, less time). With "
                               "dataloader workers, set dataloader_persistent_workers so the cache outlives an epoch"})
    max_tokens: int | None = field(default=None, metadata={"help": "truncate prompts (never through a video)"})
    queries_per_frame: int = 4
    token_mining_variant: str = "reference"
    llm_init_range: float = field(default=0.02, metadata={"help": "'tiny' only: init std of the new LLM; a larger "
                                  "value stands in for a trained LLM whose output depends on its inputs"})
    local_loss_placement: str = "pre_projection"
    lora_r: int = field(default=64, metadata={"help": "instruct: LoRA rank; 0 trains the whole LLM instead"})
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    train_token_mining: bool = field(default=False, metadata={"help": "instruct: token mining trains with LoRA"})
    merge_lora: bool = True
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    fingerprint: bool = field(default=False, metadata={"help": "write a checksum of the weights per rank"})


def parse(stage: str, config: str | None, overrides: list[str]) -> tuple[HiLightRecipe, TrainingArguments]:
    """The recipe YAML, then `--key value` overrides (see `override_value`)."""
    if stage == "instruct":
        from trl import SFTConfig as ArgsClass
    else:
        ArgsClass = TrainingArguments
    values = yaml.safe_load(Path(config).read_text()) or {} if config else {}
    if len(overrides) % 2:
        raise SystemExit(f"hilight train: overrides come in '--key value' pairs, got {overrides}")
    for key, value in zip(overrides[::2], overrides[1::2]):
        values[key.lstrip("-").replace("-", "_")] = override_value(value)
    recipe, args = HfArgumentParser((HiLightRecipe, ArgsClass)).parse_dict(values)
    return recipe, args


def override_value(text: str):
    """A command-line value: true/false, null, a number (`1e-3` too), a YAML list or mapping, else
    the text itself (so `--save_strategy no` stays "no", which YAML 1.1 would read as False, and
    `--report_to none` or `--local_loss_placement none` stay "none")."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "~"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text[:1] in "[{":
        return yaml.safe_load(text)
    return text


# -- shared pieces -------------------------------------------------------------------------------


def texts_of(dataset) -> list[str]:
    out = []
    for row in dataset:
        out.extend(row.get("captions") or ([row["caption"]] if row.get("caption") else []))
        for turn in row.get("messages") or []:
            out.extend(b["text"] for b in turn["content"] if b.get("type") == "text" and b.get("text"))
    return out


@dataclass
class CaptionProcessor:
    """The encoder stage's inputs: frames and caption tokens. The text tower's tokenizer (CLIP's BPE)
    has no `<video>` token, so this is not a HiLightProcessor."""

    video_processor: HiLightVideoProcessor
    tokenizer: object

    def save_pretrained(self, folder: str) -> None:
        self.video_processor.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


def make_processor(recipe: HiLightRecipe, train_data, stage: str = "align") -> HiLightProcessor | CaptionProcessor:
    tokenizer = None
    if recipe.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(recipe.tokenizer)
    elif recipe.model != "tiny" and (Path(recipe.model) / "tokenizer_config.json").exists():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(recipe.model)
    if tokenizer is None:
        tokenizer = build_hilight_tokenizer(texts_of(train_data))
    video = HiLightVideoProcessor(size=recipe.image_size, num_frames=recipe.num_frames, sampling=recipe.sampling,
                                  image_mean=recipe.image_mean, image_std=recipe.image_std,
                                  decode_backend=recipe.decode_backend,
                                  num_decode_threads=2)  # fmt: skip
    if stage == "encoder":
        return CaptionProcessor(video, tokenizer)
    return HiLightProcessor(video, tokenizer, queries_per_frame=recipe.queries_per_frame)


def limit(dataset, count):
    return dataset if dataset is None or count is None else dataset.select(range(min(count, len(dataset))))


class Fingerprint(TrainerCallback):
    """Each process writes a checksum of its trainable weights at the end (multi-process checks)."""

    def __init__(self, model):
        self.model = model

    def on_train_end(self, args, state, control, **kwargs):
        sums = {n: float(p.detach().double().sum()) for n, p in self.model.named_parameters() if p.requires_grad}
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.output_dir) / f"fingerprint.rank{args.process_index}.json").write_text(json.dumps(sums))


class ClampLogitScale(TrainerCallback):
    """CLIP-ViP's rule: after every optimiser step, clamp `logit_scale` to [0, ln 200]."""

    def __init__(self, model):
        self.model = model

    def on_optimizer_step(self, args, state, control, **kwargs):
        self.model.clamp_logit_scale_()


# -- the stages -----------------------------------------------------------------------------------


def encoder_model(recipe: HiLightRecipe, processor: CaptionProcessor):
    """A CLIP-ViP+ (a checkpoint folder, e.g. `hilight convert clip-vip` output, or a new tiny one) whose
    language mask uses the recipe's tokenizer: pad/bos/eos and, if not set yet, the stop-word ids."""
    from ..configuration_clip_vip_plus import CLIPViPPlusConfig
    from ..modeling_clip_vip_plus import CLIPViPPlusModel

    tok = processor.tokenizer
    if recipe.model != "tiny":
        model = CLIPViPPlusModel.from_pretrained(recipe.model)
        placement = (model.config.local_loss_placement, recipe.local_loss_placement)
        if placement[0] != placement[1]:
            if "none" in placement:  # the local heads exist only with a local loss
                raise ValueError(f"local_loss_placement={placement[1]!r} but {recipe.model} was built with "
                                 f"{placement[0]!r}; the local heads cannot be added or removed here.")  # fmt: skip
            model.config.local_loss_placement = recipe.local_loss_placement
    else:
        layers, width, text_width = recipe.vision_layers or 2, recipe.vision_width, recipe.text_width
        config = CLIPViPPlusConfig(
            text_config=dict(vocab_size=len(tok), hidden_size=text_width, intermediate_size=2 * text_width,
                             num_hidden_layers=2, num_attention_heads=max(text_width // 16, 2),
                             max_position_embeddings=64, eos_token_id=tok.eos_token_id),
            vision_config=dict(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers,
                               num_attention_heads=max(width // 16, 2), image_size=recipe.image_size,
                               patch_size=recipe.patch_size, temporal_size=recipe.num_frames),
            projection_dim=recipe.projection_dim, local_loss_placement=recipe.local_loss_placement,
            patch_scope=recipe.patch_scope,
        )  # fmt: skip
        model = CLIPViPPlusModel(config)
    model.config.grounding_loss_weight = recipe.grounding_loss_weight or model.config.grounding_loss_weight
    if recipe.language_mask_policy is not None:
        model.config.language_mask_policy = recipe.language_mask_policy
    model.use_tokenizer(tok)
    return model


def hilight_model(recipe: HiLightRecipe, processor: HiLightProcessor, stage: str):
    from ..configuration_hilight import HiLightConfig
    from ..modeling_hilight import HiLightForConditionalGeneration

    encoder = tower = None
    if recipe.clip_vip_path:
        from ..modeling_clip_vip_plus import CLIPViPPlusModel

        encoder = CLIPViPPlusModel.from_pretrained(recipe.clip_vip_path)
        tower = encoder.vision_model
    if recipe.model != "tiny":
        model = HiLightForConditionalGeneration.from_pretrained(recipe.model)
    else:
        tok = processor.tokenizer
        width, llm = recipe.vision_width, recipe.llm_width
        vision = dict(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=recipe.vision_layers or 1,
                      num_attention_heads=max(width // 16, 2), image_size=recipe.image_size,
                      patch_size=recipe.patch_size)  # fmt: skip
        clip_vip = tower.config.to_dict() if tower is not None else {**vision, "temporal_size": recipe.num_frames}
        long_clip = {**vision, "projection_dim": 16}
        if recipe.long_clip_from_clip_vip and tower is not None:  # the same image transformer, CLS per frame
            keep = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size",
                    "patch_size")  # fmt: skip
            long_clip = {**{k: clip_vip[k] for k in keep}, "projection_dim": encoder.config.projection_dim}
        config = HiLightConfig.tiny(
            clip_vip_config=clip_vip, long_clip_config=long_clip,
            text_config=dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                             initializer_range=recipe.llm_init_range, hidden_size=llm, intermediate_size=2 * llm,
                             num_hidden_layers=recipe.llm_layers, num_attention_heads=4, num_key_value_heads=4,
                             head_dim=llm // 4,
                             eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<end_of_turn>")]),
            video_token_id=processor.video_token_id, num_frames=recipe.num_frames,
            queries_per_frame=recipe.queries_per_frame, token_mining_variant=recipe.token_mining_variant,
            token_mining_attention=recipe.token_mining_attention,
            token_mining_hidden_size=token_mining_width(recipe.token_mining_variant, llm, long_clip["projection_dim"]),
            token_mining_num_heads=4 if recipe.token_mining_variant == "improved" else 2,
        )  # fmt: skip
        model = HiLightForConditionalGeneration(config)
    if recipe.language_model_from:
        if recipe.model != "tiny":
            raise ValueError(f"language_model_from starts a new model's LLM, but model is {recipe.model!r}: use "
                             f"model: tiny, or leave language_model_from out to keep that checkpoint's LLM.")  # fmt: skip
        source = HiLightForConditionalGeneration.from_pretrained(recipe.language_model_from)
        load_state_dict_strictly(model.model.language_model, source.model.language_model.state_dict(),
                                 recipe.language_model_from)  # fmt: skip
        load_state_dict_strictly(model.lm_head, source.lm_head.state_dict(), recipe.language_model_from)
    if tower is not None:  # the encoder stage's CLIP-ViP+ becomes the video tower
        load_state_dict_strictly(model.model.clip_vip, tower.state_dict(), recipe.clip_vip_path)
        if recipe.long_clip_from_clip_vip:
            load_state_dict_strictly(model.model.long_clip, long_clip_state_from_clip_vip(encoder), recipe.clip_vip_path)
    # alignment: only token mining learns (the reference); instruct: LoRA decides (see below)
    model.config.freeze_language_model = stage == "align" and not recipe.train_language_model
    model.config.freeze_token_mining = stage == "instruct" and not recipe.train_token_mining
    model.apply_freezing()
    blank_tower(model, recipe.blank_tower)
    return model


def token_mining_width(variant: str, llm_width: int, long_clip_width: int) -> int:
    """A new tiny model's token-mining width: the LLM's for `improved`, Long-CLIP's projection width for
    `reference` (the released module reinterprets that axis, so the two must be equal), else 16."""
    return {"improved": llm_width, "reference": long_clip_width}.get(variant, 16)


BLANK_TOWERS = ("none", "clip_vip", "long_clip", "both")


def blank_tower(model, tower: str) -> list:
    """Ablation of one tower: a forward pre-hook gives `tower` ("clip_vip" or "long_clip") zeros instead of
    its pixels, i.e. a uniform frame of the processor's normalisation mean for every video, so whatever the
    vision tokens say about a clip comes from the other tower ("both": from neither, a blind LLM). The hook
    lives on the module (training and `generate` alike) but is not saved with the checkpoint. Returns the
    hook handles (none for "none")."""
    if tower not in BLANK_TOWERS:
        raise ValueError(f"blank_tower must be one of {BLANK_TOWERS}, got {tower!r}.")
    base = next(m for m in model.modules() if hasattr(m, "clip_vip") and hasattr(m, "long_clip"))

    def zeros(module, args, kwargs):
        args = tuple(torch.zeros_like(a) if torch.is_tensor(a) and a.is_floating_point() else a for a in args)
        kwargs = {k: torch.zeros_like(v) if k.startswith("pixel_values") and torch.is_tensor(v) else v
                  for k, v in kwargs.items()}  # fmt: skip
        return args, kwargs

    towers = {"none": (), "both": ("clip_vip", "long_clip")}.get(tower, (tower,))
    return [getattr(base, name).register_forward_pre_hook(zeros, with_kwargs=True) for name in towers]


def long_clip_state_from_clip_vip(encoder) -> dict:
    """A Long-CLIP (`CLIPVisionModelWithProjection`) state dict from a CLIP-ViP+ model: the same
    image transformer without the proxies and the temporal embedding, and its video projection.
    Both towers of the paper start from CLIP image transformers; with no pretrained Long-CLIP here,
    the keyframe tower starts from the one our encoder stage trained."""
    state = {f"vision_model.{k}": v for k, v in encoder.vision_model.state_dict().items()
             if not k.startswith(("embeddings.added_cls", "embeddings.temporal_embedding"))}  # fmt: skip
    state["visual_projection.weight"] = encoder.visual_projection.weight
    return state


def build(stage: str, recipe: HiLightRecipe, args: TrainingArguments):
    """(trainer, processor, skipped) for a stage, ready to `train()`."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose one of {STAGES}.")
    data = load_training_data(recipe.data, recipe.video_root)
    train_data = limit(data["train"] if "train" in data else data, recipe.max_train_samples)
    eval_data = limit(data.get("validation") if hasattr(data, "get") else None, recipe.max_eval_samples)
    processor = make_processor(recipe, train_data, stage)
    set_seed(args.seed)  # the same new weights on every rank and every run
    skipped = SkippedSamples()
    args.remove_unused_columns = False  # our collators read the raw columns
    if recipe.cache_videos and args.dataloader_num_workers and not args.dataloader_persistent_workers:
        logger.warning("cache_videos with dataloader workers that restart every epoch: each epoch decodes anew "
                       "(set dataloader_persistent_workers: true to keep the cache)")  # fmt: skip
    callbacks = [SkippedSamplesCallback(skipped)]
    if stage == "encoder":
        model = encoder_model(recipe, processor)
        callbacks.append(ClampLogitScale(model))
        grounding = model.config.vision_config.patch_size if model.config.grounding_loss_weight else None
        collator = VideoCaptionCollator(processor, skipped, seed=args.seed, grounding_patch_size=grounding,
                                        cache_videos=recipe.cache_videos)  # fmt: skip
        trainer = Trainer(model=model, args=args, train_dataset=train_data, eval_dataset=eval_data,
                          data_collator=collator, callbacks=callbacks)  # fmt: skip
    elif stage == "align":
        model = hilight_model(recipe, processor, stage)
        processor.queries_per_frame = model.config.vision_tokens_per_frame  # the model decides the count
        collator = VideoChatCollator(processor, skipped, max_length=recipe.max_tokens, cache_videos=recipe.cache_videos,
                                     query_grounding=query_grounding(recipe, model))  # fmt: skip
        trainer = Trainer(model=model, args=args, train_dataset=train_data, eval_dataset=eval_data,
                          data_collator=collator, callbacks=callbacks)  # fmt: skip
    else:
        from trl import SFTTrainer

        from .lora import hilight_lora_config

        model = hilight_model(recipe, processor, stage)
        processor.queries_per_frame = model.config.vision_tokens_per_frame
        lora = None  # lora_r: 0 fine-tunes the whole LLM (a new, untrained one; LoRA is for pretrained LLMs)
        if recipe.lora_r > 0:
            lora = hilight_lora_config(model, r=recipe.lora_r, alpha=recipe.lora_alpha, dropout=recipe.lora_dropout,
                                       modules_to_save=["token_mining"] if recipe.train_token_mining else None)  # fmt: skip
        args.dataset_kwargs = {"skip_prepare_dataset": True}  # our collator tokenises and masks
        collator = VideoChatCollator(processor, skipped, max_length=recipe.max_tokens, cache_videos=recipe.cache_videos,
                                     query_grounding=query_grounding(recipe, model))  # fmt: skip
        trainer = SFTTrainer(model=model, args=args, train_dataset=train_data, eval_dataset=eval_data,
                             data_collator=collator, processing_class=processor, peft_config=lora,
                             callbacks=callbacks)  # fmt: skip
    use_stage_progress(trainer, stage)  # a bar per stage on the terminal, every log entry in output_dir
    if recipe.fingerprint:
        trainer.add_callback(Fingerprint(trainer.model))
    if recipe.qa_curve_every and stage != "encoder":
        if eval_data is None:
            raise ValueError("qa_curve_every needs a validation split in the data.")
        trainer.add_callback(QACurveCallback(trainer.model, processor, eval_data, recipe.qa_curve_every,
                                             recipe.qa_curve_questions))  # fmt: skip
    return trainer, processor, skipped


def query_grounding(recipe: HiLightRecipe, model) -> tuple[int, int, int] | None:
    """With `query_grounding_loss_weight`, set it on the model's config and return what the collator
    needs to give `token_mining_targets` (patch size, prefix tokens, queries per frame); else None."""
    if not recipe.query_grounding_loss_weight:
        return None
    if (model.config.token_mining_variant, model.config.token_mining_attention) != ("improved", "frame"):
        raise ValueError(f"query_grounding_loss_weight needs token mining 'improved' with attention 'frame' (its "
                         f"queries look at one frame each); this model has {model.config.token_mining_variant!r} "
                         f"with {model.config.token_mining_attention!r}. Set query_grounding_loss_weight: 0.")  # fmt: skip
    model.config.query_grounding_loss_weight = recipe.query_grounding_loss_weight
    vip = model.config.clip_vip_config
    return vip.patch_size, vip.num_prefix_tokens, model.config.vision_tokens_per_frame


def finish(stage: str, recipe: HiLightRecipe, trainer, processor) -> Path:
    out = Path(trainer.args.output_dir)
    trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        processor.save_pretrained(str(out))
        plot_loss_curve(trainer.state.log_history, out / "loss_curve.png", title=f"HiLight {stage} stage")
        if stage == "instruct" and recipe.merge_lora and recipe.lora_r > 0:
            from .merge import merge_peft_model

            merge_peft_model(trainer.model, processor, out / "merged")
    return out


def train(stage: str, recipe: HiLightRecipe, args: TrainingArguments):
    trainer, processor, skipped = build(stage, recipe, args)
    trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    finish(stage, recipe, trainer, processor)
    return trainer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("overrides", nargs=argparse.REMAINDER,
                        help="--config RECIPE.yaml, then --key value pairs that override the recipe")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    overrides, config = list(args.overrides), None
    if "--config" in overrides:
        at = overrides.index("--config")
        config = overrides[at + 1]
        del overrides[at : at + 2]
    recipe, training_args = parse(args.stage, config, overrides)
    trainer = train(args.stage, recipe, training_args)
    logs = [e for e in trainer.state.log_history if "loss" in e]
    if logs and trainer.is_world_process_zero():
        print(f"{args.stage}: loss {logs[0]['loss']:.4f} -> {logs[-1]['loss']:.4f} in {trainer.state.global_step} "
              f"steps; model, processor and loss_curve.png in {training_args.output_dir}")  # fmt: skip
    return 0
