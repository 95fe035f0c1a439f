"""Composition scores between heads (Elhage et al. 2021, "A Mathematical Framework").

How much a later head reads what an earlier head writes, through its queries (Q), keys (K)
or values (V): ``||W_B W_OV^A||_F / (||W_B||_F ||W_OV^A||_F)`` with ``W_B`` the later head's
``W_QK`` (Q), ``W_QK^T`` (K) or ``W_OV`` (V): TransformerLens's ``all_composition_scores``,
computed from factors formed once per head (`composition_scores`). LayerNorm is folded into
the weights first, as Elhage et al.'s models had none. Scores of random matrices of the same
shapes are not 0, so each is reported next to that baseline (mean over samples);
K-composition well above it marks the previous-token -> induction head circuit.
"""

import copy
from enum import Enum

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens.weight_processing import ProcessWeights

from mechscope.core.errors import MechscopeError
from mechscope.models.adapter import adapt
from mechscope.models.base import Decoder, Model, linear_layout, quiet_transformer_lens
from mechscope.models.bridge import is_bridge
from mechscope.models.legacy import HookedTransformer


class CompositionKind(Enum):
    """Which input of the later head reads the earlier head's output."""

    Q = "Q"
    K = "K"
    V = "V"


def folded(model: Decoder) -> Decoder:
    """A copy with LayerNorm folded into the weights (the original is untouched).

    TransformerLens's ``ProcessWeights`` folds the state dict, which is then loaded in one
    ``load_state_dict``: ``load_and_process_state_dict`` loads it one key at a time, each
    call walking every module (4.8 s of SmolLM2's 5.1 s copy here).
    """
    if is_bridge(model):  # the Bridge folds its own (Hugging Face) weights, on a copy
        bridge = copy.deepcopy(model)
        if not getattr(bridge, "_weights_processed", False):
            bridge.process_weights(  # pyright: ignore[reportCallIssue]
                fold_ln=True, center_writing_weights=False, center_unembed=False,
                fold_value_biases=False,
            )  # fmt: skip
        return bridge
    if model.cfg.normalization_type not in ("LN", "LNPre", "RMS", "RMSPre", None):
        raise MechscopeError(f"cannot fold normalization {model.cfg.normalization_type!r}")
    fold_ln = model.cfg.normalization_type in ("LN", "RMS")
    assert isinstance(model, HookedTransformer)
    cfg = copy.deepcopy(model.cfg)
    cfg.init_weights = False  # every weight is loaded below; drawing random ones first took
    # about half of the copy's time on SmolLM2
    if fold_ln:
        cfg.normalization_type = f"{model.cfg.normalization_type}Pre"
    with quiet_transformer_lens():
        copy_model = HookedTransformer(cfg, move_to_device=False)
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    state = ProcessWeights.process_weights(
        state, model.cfg, fold_ln=fold_ln, center_writing_weights=False, center_unembed=False,
        fold_value_biases=False,
    )  # fmt: skip
    copy_model.load_state_dict(state, strict=False, assign=True)
    return linear_layout(copy_model)


def composition_scores(
    model: Model, kind: CompositionKind, *, is_folded: bool = False
) -> Float[Tensor, "layer head later_layer later_head"]:
    """Scores from each head (first two axes) to each head of a later layer (last two).

    The same numbers as TransformerLens's ``all_composition_scores`` (tested to 1e-6), from
    factors computed once per head rather than once per pair: with ``A_l = Q_l R_l`` (QR)
    the earlier head's ``W_OV = A_l B_l`` has the norms of ``L = R_l B_l``, and with
    ``B_r^T = Q_r R_r`` the later head's matrix ``A_r B_r`` those of ``R = A_r R_r^T``, so
    ``||W_OV W_B||_F = ||L R||_F`` (orthonormal factors keep Frobenius norms). Every pair is
    then one ``d_head x d_model x d_head`` product, an earlier layer against every later
    head in one matmul. TransformerLens decomposes each factored matrix by SVD again for
    every pair of layers (82 s of SmolLM2's 89 s ``weight_circuits`` here) and forms every
    pair of heads at once (out of memory on SmolLM2's 270 heads at 24 GB).
    ``is_folded``: ``model`` is already `folded`.
    """
    decoder = adapt(model).decoder("composition scores")
    decoder = decoder if is_folded else folded(decoder)
    n_layers, n_heads = decoder.cfg.n_layers, decoder.cfg.n_heads
    scores = torch.zeros(n_layers, n_heads, n_layers, n_heads)
    with torch.no_grad():
        w_q, w_k, w_v, w_o = (adapt(decoder).head_weight(n) for n in ("W_Q", "W_K", "W_V", "W_O"))
        left = _left_factors(w_v, w_o)  # layer head d_head d_model
        a_right, b_right = {
            CompositionKind.Q: (w_q, w_k.transpose(-1, -2)),
            CompositionKind.K: (w_k, w_q.transpose(-1, -2)),
            CompositionKind.V: (w_v, w_o),
        }[kind]
        right = _right_factors(a_right, b_right)  # layer head d_model d_head
        left_norm = left.square().sum((-2, -1)).sqrt()
        right_norm = right.square().sum((-2, -1)).sqrt()
        d_head = left.shape[-2]
        for layer in range(n_layers - 1):
            later = right[layer + 1 :]  # later_layer head d_model d_head
            n_later = later.shape[0] * n_heads
            flat_left = left[layer].reshape(n_heads * d_head, -1)
            flat_right = later.permute(2, 0, 1, 3).reshape(later.shape[2], n_later * d_head)
            product = (flat_left @ flat_right).view(n_heads, d_head, n_later, d_head)
            norm = product.square().sum((1, 3)).sqrt()  # head later_head
            norm = norm / left_norm[layer][:, None] / right_norm[layer + 1 :].reshape(1, -1)
            scores[layer, :, layer + 1 :] = norm.view(n_heads, -1, n_heads).float().cpu()
    return scores


def _left_factors(
    a: Float[Tensor, "*lead d_model d_head"], b: Float[Tensor, "*lead d_head d_model"]
) -> Float[Tensor, "*lead d_head d_model"]:
    """``R B`` with ``A = Q R``: the same singular values (so norms) as ``A B``."""
    r = torch.linalg.qr(a.double(), mode="reduced").R
    return (r @ b.double()).to(a.dtype)


def _right_factors(
    a: Float[Tensor, "*lead d_model d_head"], b: Float[Tensor, "*lead d_head d_model"]
) -> Float[Tensor, "*lead d_model d_head"]:
    """``A R^T`` with ``B^T = Q R``: the same singular values (so norms) as ``A B``."""
    r = torch.linalg.qr(b.transpose(-1, -2).double(), mode="reduced").R
    return (a.double() @ r.transpose(-1, -2)).to(a.dtype)


def random_baseline(
    model: Model, kind: CompositionKind, n_samples: int = 64, seed: int = 0
) -> float:
    """Mean composition score of Gaussian matrices with the model's head shapes."""
    cfg = model.cfg
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> Tensor:
        return torch.randn(n_samples, *shape, generator=generator)

    d_model, d_head = cfg.d_model, cfg.d_head
    ov_a, ov_b = randn(d_model, d_head), randn(d_head, d_model)
    # The later head's matrix, drawn independently; its transpose for K (same distribution).
    later_a, later_b = randn(d_model, d_head), randn(d_head, d_model)
    if kind is CompositionKind.K:
        later_a, later_b = later_b.transpose(-1, -2), later_a.transpose(-1, -2)
    left, right = _left_factors(ov_a, ov_b), _right_factors(later_a, later_b)
    norm = (left @ right).square().sum((-2, -1)).sqrt()
    norm = norm / left.square().sum((-2, -1)).sqrt() / right.square().sum((-2, -1)).sqrt()
    return float(norm.mean())
