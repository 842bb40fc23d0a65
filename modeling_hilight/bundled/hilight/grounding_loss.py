"""A supervised grounding loss: a word that names an object should peak on that object's patch.

Not part of the paper. SPARC's local loss (sparc_loss.py) groups patches by similarity without
knowing where anything is; where the data knows (the billiards world records every ball's
position in every frame), this loss tells the two towers directly. For a target n = (sample b,
text token t, frame f, patch p*):

    s_np = scale * <l_bt / |l_bt|, v_bfp / |v_bfp|>     over the L patches p of frame f
    L    = mean_n CE(s_n., p*)

with l and v the same local features the SPARC loss uses (after the local projections).
"""

import torch
import torch.nn.functional as F
from torch import nn


class PatchGroundingLoss(nn.Module):
    def __init__(self, logit_scale: float = 20.0):
        super().__init__()
        self.logit_scale = logit_scale

    def forward(self, text_tokens: torch.Tensor, patch_tokens: torch.Tensor, targets: torch.Tensor,
                patches_per_frame: int) -> torch.Tensor:  # fmt: skip
        """text_tokens [B, S, D], patch_tokens [B, T*L, D], targets [N, 4] rows (sample, token, frame, patch)."""
        if targets.numel() == 0:
            return text_tokens.sum() * 0.0  # keeps the graph: every parameter still gets a (zero) gradient
        sample, token, frame, patch = targets.long().unbind(-1)
        frames = patch_tokens.view(patch_tokens.shape[0], -1, patches_per_frame, patch_tokens.shape[-1])
        words = F.normalize(text_tokens[sample, token], dim=-1)  # [N, D]
        regions = F.normalize(frames[sample, frame], dim=-1)  # [N, L, D]
        logits = self.logit_scale * torch.einsum("nd,nld->nl", words, regions)
        return F.cross_entropy(logits, patch)


class QueryGroundingLoss(nn.Module):
    """The same supervision for token mining's queries (frame-local `improved` variant): query j of
    keyframe k should look at the patch of object j, or at CLS (index 0) when object j is not in
    that frame. With a_kjp the query's attention weights (mean over heads) over [prefix, patches]:

        L = mean_{k, j labelled} -log a_kjp*      (targets -100: no label)
    """

    def forward(self, attention_weights: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """attention_weights [V, K, q, M + L]; targets [V, K, q] indices into the last axis, or -100."""
        log_weights = attention_weights.clamp_min(1e-9).log()
        return F.nll_loss(log_weights.flatten(0, 2), targets.flatten().long(), ignore_index=-100)


__all__ = ["PatchGroundingLoss", "QueryGroundingLoss"]
