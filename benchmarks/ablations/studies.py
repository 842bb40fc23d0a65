"""What the ablation table measures: the budgets, the studies, their rows and the claims checked.

Every configuration is the bundled model's recipes (`training/recipes/bundled_*.yaml`, the data's own
frame statistics) at the budget's size and steps, with one change per row:

* encoder rows train stage 0 only (CLIP-ViP+) and are measured by retrieval and grounding. Their
  base is the paper's CLIP-ViP+: SPARC at `pre_projection` with the language mask, per-frame patch
  scope, *without* our supervised grounding loss (that loss is the extra row of the placement study);
* chat rows train stages 1 and 2 (align, instruct) on two shared runs: the bundled encoder (with the
  grounding loss) of the same seed as the video tower, and one blind language model for the table
  (the bundled align stage with both towers given zeros, so the new LLM learns the language and the
  answers' priors but never sees a clip). Their align stage then trains token mining alone under
  that frozen LLM, as the paper's stage 1 does under its one pretrained Gemma; instruct is the
  bundled one (LLM and token mining).
  They are measured by QA accuracy on the test split (with the blind baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Budget:
    """One size and step budget for every configuration of the table."""

    name: str
    clips: int  # the billiards data set (80/10/10 train/validation/test)
    num_frames: int
    image_size: int
    batch_size: int
    encoder_steps: int
    align_steps: int
    instruct_steps: int
    lm_steps: int  # the blind language model every chat row starts from (at the bundled recipe's batch)
    questions: int  # test questions for QA (each also asked with another clip's video)
    pool: int  # test clips for retrieval and grounding
    statistics_clips: int = 200  # clips for the frame mean/std
    model: dict = field(default_factory=dict)  # size overrides for all stages (vision_width, llm_width, ...)

    def describe(self) -> str:
        size = ", ".join(f"{k} {v}" for k, v in self.model.items())
        return (f"{self.name}: {self.clips} clips (128x64, 12 fps), {self.num_frames} frames of {self.image_size} px, "
                f"batch {self.batch_size}; encoder {self.encoder_steps} steps, align {self.align_steps}, instruct "
                f"{self.instruct_steps}; one blind language model {self.lm_steps} steps at the bundled batch; QA on up to {self.questions} test questions, retrieval and grounding on "
                f"{self.pool} test clips" + (f"; model {size}" if size else "; model sizes of the bundled recipes"))  # fmt: skip


BUDGETS = {
    # the smoke test's size: seconds, says nothing about the claims
    "smoke": Budget("smoke", clips=20, num_frames=4, image_size=32, batch_size=4, encoder_steps=2, lm_steps=2,
                    align_steps=2, instruct_steps=1, questions=6, pool=2, statistics_clips=4,
                    model=dict(patch_size=8, vision_width=32, vision_layers=2, text_width=32, projection_dim=32,
                               llm_width=32, llm_layers=1)),  # fmt: skip
    "small": Budget("small", clips=2000, num_frames=4, image_size=64, batch_size=16, encoder_steps=40, lm_steps=200,
                    align_steps=30, instruct_steps=20, questions=48, pool=40),  # fmt: skip
    "full": Budget("full", clips=4000, num_frames=8, image_size=64, batch_size=16, encoder_steps=120, lm_steps=300,
                   align_steps=80, instruct_steps=40, questions=120, pool=100),  # fmt: skip
}


@dataclass(frozen=True)
class Row:
    """One configuration. `encoder`: overrides of bundled_encoder.yaml; `align`: overrides of
    bundled_align.yaml (None for an encoder-only row); `blank_tower` goes to align and instruct."""

    label: str
    encoder: dict = field(default_factory=dict)
    align: dict | None = None
    blank_tower: str = "none"

    @property
    def chat(self) -> bool:
        return self.align is not None


@dataclass(frozen=True)
class Claim:
    """A comparison the report states. `source`: "paper" (a claim of the paper: agrees / no difference
    / disagrees) or "ours" (no claim to check: higher / no difference / lower). `best` is the row
    claimed better than each of `against` on `metric`."""

    source: str
    text: str
    metric: str
    best: str
    against: tuple[str, ...]
    higher_is_better: bool = True


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    rows: tuple[Row, ...]
    columns: tuple[tuple[str, str], ...]  # (metric, header)
    claims: tuple[Claim, ...] = ()
    plot_metric: str = ""
    note: str = ""
    per_type: tuple[str, str] | None = None  # two rows whose QA accuracy is compared per question type


ENCODER = {"grounding_loss_weight": 0.0}  # the paper's CLIP-ViP+ (bundled_encoder.yaml turns our grounding loss on)
PLAIN_MINING = {"token_mining_attention": "clip", "query_grounding_loss_weight": 0.0}

RETRIEVAL = (("t2v_R@1", "text→video R@1"), ("t2v_R@5", "R@5"), ("v2t_R@1", "video→text R@1"), ("v2t_R@5", "R@5"))
GROUNDING = (("hit_rate", "grounding hit rate"), ("chance_rate", "chance"), ("any_ball_rate", "peak on any ball"))
QA = (("qa_accuracy", "QA accuracy"), ("qa_blind", "blind"), ("qa_gap", "gap"))

SETTING2 = "pre_projection (setting 2)"


def queries_label(q: int) -> str:
    return f"{q} {'query' if q == 1 else 'queries'} per frame"


STUDIES = {
    "placement": Study(
        "placement", "Local-loss placement (encoder)",
        rows=(
            Row("none", {**ENCODER, "local_loss_placement": "none"}),
            Row("embeddings (setting 3)", {**ENCODER, "local_loss_placement": "embeddings"}),
            Row(SETTING2, dict(ENCODER)),
            Row("all_layers (setting 4)", {**ENCODER, "local_loss_placement": "all_layers"}),
            Row("pre_projection + grounding loss (ours)", {"grounding_loss_weight": 1.0}),
        ),
        columns=RETRIEVAL + GROUNDING,
        claims=(
            Claim("paper", "the local loss after the encoder with the language mask (setting 2) gives the clearest "
                  "word-to-region correspondence", "hit_rate", SETTING2,
                  ("none", "embeddings (setting 3)", "all_layers (setting 4)")),
            Claim("ours", "our supervised grounding loss on top of setting 2", "hit_rate",
                  "pre_projection + grounding loss (ours)", (SETTING2,)),
        ),  # fmt: skip
        plot_metric="hit_rate",
        note="Every row has the language mask and per-frame patch scope; only the last adds the grounding loss.",
    ),
    "language_mask": Study(
        "language_mask", "Language mask at pre_projection (encoder)",
        rows=(Row("language mask on (setting 2)", dict(ENCODER)),
              Row("language mask off (setting 1)", {**ENCODER, "language_mask_policy": "special_tokens"})),
        columns=RETRIEVAL + GROUNDING,
        claims=(Claim("paper", "the language mask improves word-to-region correspondence", "hit_rate",
                      "language mask on (setting 2)", ("language mask off (setting 1)",)),),
        plot_metric="hit_rate",
        note="Off: only padding and special tokens leave the local loss (`language_mask_policy: special_tokens`).",
    ),  # fmt: skip
    "patch_scope": Study(
        "patch_scope", "Patch scope of the local loss (encoder)",
        rows=(Row("patch_scope frame", dict(ENCODER)), Row("patch_scope clip", {**ENCODER, "patch_scope": "clip"})),
        columns=RETRIEVAL + GROUNDING,
        claims=(Claim("ours", "the paper does not say which pool it used; per frame against the whole clip",
                      "hit_rate", "patch_scope frame", ("patch_scope clip",)),),
        plot_metric="hit_rate",
    ),  # fmt: skip
    "token_mining": Study(
        "token_mining", "Token mining structure (align, then instruct)",
        rows=tuple(Row(v, align={**PLAIN_MINING, "token_mining_variant": v})
                   for v in ("structure1", "structure2", "reference", "improved")),
        columns=(("align_loss", "alignment loss (end)"), ("vision_tokens", "vision tokens"), *QA),
        claims=(
            Claim("paper", "structure 2 reaches a lower alignment loss than structure 1 (about 1.3 against 1.7)",
                  "align_loss", "structure2", ("structure1",), higher_is_better=False),
            Claim("ours", "the released module (structure 3) against structure 2", "align_loss", "reference",
                  ("structure2",), higher_is_better=False),
            Claim("ours", "our improved variant against the released module", "align_loss", "improved", ("reference",),
                  higher_is_better=False),
            Claim("ours", "QA accuracy after instruction tuning, improved against the released module", "qa_accuracy",
                  "improved", ("reference",)),
        ),  # fmt: skip
        plot_metric="align_loss",
        note="Every variant with clip-wide attention and no query grounding loss (those need the frame-local "
             "improved variant). Align trains token mining alone under the seed's frozen blind language model, "
             "as the paper's stage 1 (Figure 3) did under a pretrained Gemma.",
    ),
    "towers": Study(
        "towers", "Vision towers (align, then instruct)",
        rows=(Row("both towers", align={}), Row("CLIP-ViP+ alone", align={}, blank_tower="long_clip"),
              Row("Long-CLIP alone", align={}, blank_tower="clip_vip")),
        columns=QA,  # the per-type columns are added by the report
        claims=(Claim("paper", "two towers beat either one alone", "qa_accuracy", "both towers",
                      ("CLIP-ViP+ alone", "Long-CLIP alone")),),
        plot_metric="qa_accuracy",
        per_type=("CLIP-ViP+ alone", "Long-CLIP alone"),
        note="A tower left out gets zeros for pixels (`blank_tower`: a uniform frame of the normalisation mean, the "
             "same for every clip), in training and in evaluation; the model keeps its shape and parameters.",
    ),  # fmt: skip
    "queries": Study(
        "queries", "Vision tokens per video (align, then instruct)",
        rows=tuple(Row(queries_label(q), align={"queries_per_frame": q}) for q in (1, 4, 16, 32)),
        columns=(("vision_tokens", "vision tokens"), *QA),
        claims=(Claim("ours", "the paper's 32 queries per frame against 1", "qa_accuracy", "32 queries per frame",
                      ("1 query per frame",)),),
        plot_metric="qa_accuracy",
        note="The bundled align setting (frame-local improved token mining, query grounding: query j looks for "
             "ball j, so below 16 queries only balls 0..q-1 get a target).",
    ),  # fmt: skip
}
CHAT_ENCODER: dict = {}  # chat rows train on the bundled encoder (bundled_encoder.yaml as it is) of the same seed


def select(names: list[str] | None) -> list[Study]:
    """The named studies in table order; every study for None or ["all"]."""
    if not names or names == ["all"]:
        return list(STUDIES.values())
    unknown = [n for n in names if n not in STUDIES]
    if unknown:
        raise ValueError(f"--studies: unknown {', '.join(unknown)}; choose from {', '.join(STUDIES)} or all.")
    return [STUDIES[n] for n in dict.fromkeys(names)]
