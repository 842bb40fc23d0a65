"""The SPARC local loss against the paper's equations, recomputed here in plain Python loops."""

import math

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from modeling_hilight.configuration_clip_vip_plus import DEFAULT_STOPWORDS
from modeling_hilight.language_mask import build_language_mask, stopword_token_ids
from modeling_hilight.sparc_loss import SparcLocalLoss, VideoTextContrastiveLoss


def sparc_by_the_equations(text, patches, mask, scale, threshold=None):
    """One sample at a time, one token at a time, in float64 numpy."""
    losses = []
    for l, v, m in zip(text.double().numpy(), patches.double().numpy(), mask.numpy()):
        tokens, num_patches = l.shape[0], v.shape[0]
        sigma = 1.0 / num_patches if threshold is None else threshold
        grouped = np.zeros_like(l)
        for t in range(tokens):
            s = np.array([l[t] @ v[p] for p in range(num_patches)])
            s = (s - s.min()) / (s.max() - s.min())
            s = np.where(s >= sigma, s, 0.0)
            a = s / s.sum()
            grouped[t] = sum(a[p] * v[p] for p in range(num_patches))
        keep = [t for t in range(tokens) if m[t]]
        if not keep:
            continue
        ln = l / np.linalg.norm(l, axis=1, keepdims=True)
        cn = grouped / np.linalg.norm(grouped, axis=1, keepdims=True)
        z = scale * ln[keep] @ cn[keep].T  # rows: tokens, columns: grouped embeddings
        t2v = -np.mean([z[i, i] - math.log(np.exp(z[i]).sum()) for i in range(len(keep))])
        v2t = -np.mean([z[i, i] - math.log(np.exp(z[:, i]).sum()) for i in range(len(keep))])
        losses.append((t2v + v2t) / 2)
    return float(np.mean(losses))


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_sparc_loss_matches_the_equations(threshold):
    g = torch.Generator().manual_seed(0)
    text, patches = torch.randn(3, 6, 8, generator=g), torch.randn(3, 20, 8, generator=g)
    mask = torch.tensor([[1, 1, 0, 1, 1, 0], [0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    got = SparcLocalLoss(threshold)(text, patches, mask, torch.tensor(7.0))
    assert got.item() == pytest.approx(sparc_by_the_equations(text, patches, mask, 7.0, threshold), rel=1e-5)


def test_sparse_weights_are_normalised_not_a_softmax():
    sims = torch.tensor([[[0.0, 1.0, 2.0, 10.0]]])  # normalised: 0, .1, .2, 1 ; 1/P = .25 keeps only the last
    weights = SparcLocalLoss().alignment_weights(sims)
    torch.testing.assert_close(weights, torch.tensor([[[0.0, 0.0, 0.0, 1.0]]]))
    weights = SparcLocalLoss(0.1).alignment_weights(sims)
    torch.testing.assert_close(weights, torch.tensor([[[0.0, 0.1, 0.2, 1.0]]]) / 1.3)


def test_changing_a_masked_token_does_not_change_the_loss():
    g = torch.Generator().manual_seed(1)
    text, patches = torch.randn(2, 5, 8, generator=g), torch.randn(2, 12, 8, generator=g)
    mask = torch.tensor([[1, 0, 1, 1, 0], [1, 1, 0, 1, 1]], dtype=torch.bool)
    loss = SparcLocalLoss()
    before = loss(text, patches, mask, torch.tensor(10.0))
    changed = text.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), 8, generator=g) * 5
    torch.testing.assert_close(loss(changed, patches, mask, torch.tensor(10.0)), before)
    changed[0, 0] += 1.0  # an unmasked token does change it
    assert not torch.allclose(loss(changed, patches, mask, torch.tensor(10.0)), before)


def test_fully_masked_samples_are_left_out_and_gradients_stay_finite():
    g = torch.Generator().manual_seed(2)
    text = torch.randn(2, 4, 8, generator=g, requires_grad=True)
    patches = torch.randn(2, 10, 8, generator=g)
    mask = torch.tensor([[0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.bool)
    out = SparcLocalLoss()(text, patches, mask, torch.tensor(5.0))
    expected = sparc_by_the_equations(text.detach()[1:], patches[1:], mask[1:], 5.0)
    assert out.item() == pytest.approx(expected, rel=1e-5)
    out.backward()
    assert torch.isfinite(text.grad).all() and text.grad[0].abs().sum() == 0
    none = SparcLocalLoss()(text, patches, torch.zeros(2, 4, dtype=torch.bool), torch.tensor(5.0))
    assert none.item() == 0.0


def test_global_contrastive_loss_is_symmetric_infonce():
    logits = torch.tensor([[3.0, 1.0], [0.5, 2.0]])
    expected = 0.0
    for matrix in (logits, logits.t()):
        expected += -sum(matrix[i, i] - torch.logsumexp(matrix[i], 0) for i in range(2)) / 2
    torch.testing.assert_close(VideoTextContrastiveLoss()(logits), expected / 2)


def _word_tokenizer(words):
    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3}
    for w in words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>")


def test_language_mask_removes_padding_special_tokens_and_stopwords():
    tokenizer = _word_tokenizer("the cue ball hits red 3 into top left pocket of game".split())
    stop_ids = stopword_token_ids(tokenizer, DEFAULT_STOPWORDS)
    assert sorted(tokenizer.convert_ids_to_tokens(stop_ids)) == ["game", "into", "of", "the"]
    batch = tokenizer(["<bos> the cue ball hits the red 3 <eos>", "<bos> game of red <eos>"], padding=True,
                      return_tensors="pt", add_special_tokens=False)
    mask = build_language_mask(batch["input_ids"], batch["attention_mask"], {0, 1, 2} | set(stop_ids))
    words = [[w for w, keep in zip(tokenizer.convert_ids_to_tokens(row), m) if keep]
             for row, m in zip(batch["input_ids"], mask)]
    assert words == [["cue", "ball", "hits", "red", "3"], ["red"]]
