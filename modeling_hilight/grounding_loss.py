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


__all__ = ["PatchGroundingLoss"]
