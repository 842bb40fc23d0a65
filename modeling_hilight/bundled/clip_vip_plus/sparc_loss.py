"""The two losses of CLIP-ViP+: a global video-text InfoNCE and the SPARC fine-grained local loss.

SPARC (Bica et al., arXiv 2401.09865) grounds every text token in the patches it resembles and
contrasts the token with that "language-grouped" vision embedding. HiLight's addition is the
language mask: tokens with abstract meaning take no part in the local loss (see language_mask.py).
"""

import torch
import torch.nn.functional as F
from torch import nn


class VideoTextContrastiveLoss(nn.Module):
    """Symmetric InfoNCE over a batch: video i belongs to text i.

        L_global = ( CE(logits_per_text, I) + CE(logits_per_text^T, I) ) / 2
    """

    def forward(self, logits_per_text: torch.Tensor) -> torch.Tensor:
        labels = torch.arange(logits_per_text.shape[0], device=logits_per_text.device)
        text_to_video = F.cross_entropy(logits_per_text, labels)
        video_to_text = F.cross_entropy(logits_per_text.t(), labels)
        return (text_to_video + video_to_text) / 2


class SparcLocalLoss(nn.Module):
    """SPARC's fine-grained loss, per sample, with a language mask.

    For one sample with token embeddings l [T, D], patch embeddings v [P, D] and mask m [T]:

        s_tp  = l_t . v_p                                         token-patch similarity
        s'_tp = (s_tp - min_p s_tp) / (max_p s_tp - min_p s_tp)    min-max over patches
        a_tp  = s'_tp [s'_tp >= sigma] / sum_p s'_tp [s'_tp >= sigma]   sparse weights, sigma = 1/P
        c_t   = sum_p a_tp v_p                                    language-grouped vision embedding
        z_tu  = scale * <l_t / |l_t|, c_u / |c_u|>                 token t against group u, t,u in m
        L     = mean_{t in m} ( CE(z_t., t) + CE(z_.t, t) ) / 2

    The loss of the batch is the mean over samples that have at least one unmasked token.
    Masked tokens are removed from both the rows and the columns of z.
    """

    def __init__(self, sparsity_threshold: float | None = None, eps: float = 1e-6):
        super().__init__()
        self.sparsity_threshold = sparsity_threshold
        self.eps = eps

    def alignment_weights(self, similarity: torch.Tensor) -> torch.Tensor:
        """`similarity` [..., T, P] -> sparse, row-normalised weights a [..., T, P] (not a softmax)."""
        num_patches = similarity.shape[-1]
        threshold = 1.0 / num_patches if self.sparsity_threshold is None else self.sparsity_threshold
        low = similarity.amin(dim=-1, keepdim=True)
        high = similarity.amax(dim=-1, keepdim=True)
        normalised = (similarity - low) / (high - low).clamp_min(self.eps)
        sparse = torch.where(normalised >= threshold, normalised, torch.zeros_like(normalised))
        return sparse / sparse.sum(dim=-1, keepdim=True).clamp_min(self.eps)

    def forward(
        self,
        text_tokens: torch.Tensor,
        patch_tokens: torch.Tensor,
        language_mask: torch.Tensor,
        logit_scale: torch.Tensor,
    ) -> torch.Tensor:
        """
        text_tokens [B, T, D], patch_tokens [B, P, D], language_mask [B, T] (True = in the loss),
        logit_scale: the multiplier 1/tau (already exponentiated).
        """
        language_mask = language_mask.bool()
        similarity = torch.einsum("btd,bpd->btp", text_tokens, patch_tokens)
        weights = self.alignment_weights(similarity)
        grouped = torch.einsum("btp,bpd->btd", weights, patch_tokens)

        text_n = F.normalize(text_tokens, dim=-1, eps=self.eps)
        grouped_n = F.normalize(grouped, dim=-1, eps=self.eps)
        logits = logit_scale * torch.einsum("btd,bud->btu", text_n, grouped_n)  # [B, T, T]

        # Masked tokens leave the candidates (columns; a finite minimum keeps all-masked rows NaN-free)
        # and the rows (ignored targets).
        hidden = torch.finfo(logits.dtype).min
        column_ok = language_mask[:, None, :]
        logits_t2v = logits.masked_fill(~column_ok, hidden)
        logits_v2t = logits.transpose(1, 2).masked_fill(~column_ok, hidden)
        positions = torch.arange(logits.shape[-1], device=logits.device).expand(logits.shape[:2])
        targets = torch.where(language_mask, positions, torch.full_like(positions, -100)).flatten()
        loss_t2v = F.cross_entropy(logits_t2v.flatten(0, 1), targets, ignore_index=-100, reduction="none")
        loss_v2t = F.cross_entropy(logits_v2t.flatten(0, 1), targets, ignore_index=-100, reduction="none")
        per_token = ((loss_t2v + loss_v2t) / 2).view(logits.shape[:2])

        tokens_per_sample = language_mask.sum(dim=1)
        has_tokens = tokens_per_sample > 0
        per_sample = per_token.sum(dim=1) / tokens_per_sample.clamp_min(1)
        if not has_tokens.any():
            return per_sample.sum() * 0.0  # keeps the graph, contributes nothing
        return per_sample[has_tokens].mean()


__all__ = ["SparcLocalLoss", "VideoTextContrastiveLoss"]
