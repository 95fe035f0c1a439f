"""Composition scores between heads (Elhage et al. 2021, "A Mathematical Framework").

How much a later head reads what an earlier head writes, through its queries (Q), keys (K)
or values (V): ``||W_B W_OV^A||_F / (||W_B||_F ||W_OV^A||_F)`` with ``W_B`` the later head's
``W_QK`` (Q), ``W_QK^T`` (K) or ``W_OV`` (V), computed by TransformerLens's
``all_composition_scores``. LayerNorm is folded into the weights first, as Elhage et al.'s
models had none. Scores of random matrices of the same shapes are not 0, so each is reported
next to that baseline (mean over samples); K-composition well above it marks the
previous-token -> induction head circuit.
"""

import copy
from enum import Enum

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens.FactoredMatrix import FactoredMatrix
from transformer_lens.utilities.matrix import composition_scores as tl_composition_scores
from transformer_lens.weight_processing import ProcessWeights

from mechscope.core.errors import MechscopeError
from mechscope.models.adapter import adapt
from mechscope.models.base import Model, linear_layout, quiet_transformer_lens


class CompositionKind(Enum):
    """Which input of the later head reads the earlier head's output."""

    Q = "Q"
    K = "K"
    V = "V"


def folded(model: HookedTransformer) -> HookedTransformer:
    """A copy with LayerNorm folded into the weights (the original is untouched).

    TransformerLens's ``ProcessWeights`` folds the state dict, which is then loaded in one
    ``load_state_dict``: ``load_and_process_state_dict`` loads it one key at a time, each
    call walking every module (4.8 s of SmolLM2's 5.1 s copy here).
    """
    if model.cfg.normalization_type not in ("LN", "LNPre", "RMS", "RMSPre", None):
        raise MechscopeError(f"cannot fold normalization {model.cfg.normalization_type!r}")
    fold_ln = model.cfg.normalization_type in ("LN", "RMS")
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

    The same numbers as TransformerLens's ``all_composition_scores``, computed one earlier
    layer at a time: TransformerLens forms every pair of heads at once, which for SmolLM2's 270
    heads ran a 24 GB machine out of memory. ``is_folded``: ``model`` is already `folded`.
    """
    decoder = adapt(model).decoder("composition scores")
    decoder = decoder if is_folded else folded(decoder)
    n_layers, n_heads = decoder.cfg.n_layers, decoder.cfg.n_heads
    scores = torch.zeros(n_layers, n_heads, n_layers, n_heads)
    with torch.no_grad():
        ov, qk = decoder.OV, decoder.QK
        right_all = {CompositionKind.Q: qk, CompositionKind.K: qk.T, CompositionKind.V: ov}[kind]
        for layer in range(n_layers - 1):
            left = FactoredMatrix(ov.A[layer], ov.B[layer])
            right = FactoredMatrix(right_all.A[layer + 1 :], right_all.B[layer + 1 :])
            block = tl_composition_scores(left, right, broadcast_dims=True)  # head L' head
            scores[layer, :, layer + 1 :] = block.cpu()
    return scores


def random_baseline(
    model: Model, kind: CompositionKind, n_samples: int = 64, seed: int = 0
) -> float:
    """Mean composition score of Gaussian matrices with the model's head shapes."""
    cfg = model.cfg
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> Tensor:
        return torch.randn(n_samples, *shape, generator=generator)

    d_model, d_head = cfg.d_model, cfg.d_head
    ov = FactoredMatrix(randn(d_model, d_head), randn(d_head, d_model))
    # The later head's matrix, drawn independently; its transpose for K (same distribution).
    later = FactoredMatrix(randn(d_model, d_head), randn(d_head, d_model))
    right = later.T if kind is CompositionKind.K else later
    scores = tl_composition_scores(ov, right, broadcast_dims=False)
    return float(scores.mean())
