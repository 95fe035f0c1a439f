"""The QK and OV circuits of every head, read from the weights (Elhage et al. 2021).

Per head: the low-rank ``W_QK = W_Q W_K^T`` and ``W_OV = W_V W_O`` as TransformerLens
``FactoredMatrix`` objects, their singular values, the eigenvalues of the full OV circuit
``W_E W_OV W_U`` and its copying score (sum of the eigenvalues / sum of their magnitudes:
+1 for a head whose OV circuit copies the token it attends to, -1 for one that suppresses
it), and the positional QK pattern (which relative positions the QK circuit prefers with the
token terms removed). The d_vocab x d_vocab circuit is never formed: its non-zero eigenvalues
are those of the d_head x d_head matrix ``W_O W_U W_E W_V``. LayerNorm is folded into the
weights first (its scale is ignored, as in Elhage et al., whose models had none).
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.FactoredMatrix import FactoredMatrix

from mechscope.circuits.composition import (
    CompositionKind,
    composition_scores,
    folded,
    random_baseline,
)
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result, regroup_v1
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Decoder, Model


def ov_circuit(model: Decoder, layer: int, head: int) -> FactoredMatrix:
    """``W_V W_O`` of one head (d_model x d_model, rank d_head)."""
    weight = adapt(model).head_weight
    return FactoredMatrix(weight("W_V")[layer, head], weight("W_O")[layer, head])


def qk_circuit(model: Decoder, layer: int, head: int) -> FactoredMatrix:
    """``W_Q W_K^T`` of one head (d_model x d_model, rank d_head)."""
    weight = adapt(model).head_weight
    return FactoredMatrix(weight("W_Q")[layer, head], weight("W_K")[layer, head].T)


@torch.no_grad()
def ov_eigenvalues(model: Decoder) -> Tensor:
    """Eigenvalues of every head's full OV circuit ``W_E W_OV W_U`` (complex, layer head d_head).

    Computed as those of ``W_O W_U W_E W_V`` (d_head x d_head), which has the same non-zero
    eigenvalues.
    """
    unembed_embed = model.W_U.double() @ model.W_E.double()  # d_model x d_model
    small = torch.einsum(
        "lhed,dm,lhmf->lhef",
        adapt(model).head_weight("W_O").double(),
        unembed_embed,
        adapt(model).head_weight("W_V").double(),
    )
    return torch.linalg.eigvals(small)


def copying_score(eigenvalues: Tensor) -> Tensor:
    """Sum of eigenvalues / sum of their magnitudes, over the last axis (real, in [-1, 1])."""
    return eigenvalues.sum(-1).real / eigenvalues.abs().sum(-1)


@torch.no_grad()
def full_ov_circuit(
    model: Decoder, layer: int, head: int, token_ids: Int[Tensor, " k"]
) -> Float[Tensor, "k k"]:
    """Rows: a source token's embedding through the head's OV; columns: its logit on each token."""
    ids = token_ids.to(model.W_E.device)
    w_v, w_o = (adapt(model).head_weight(name)[layer, head] for name in ("W_V", "W_O"))
    return (model.W_E[ids] @ w_v @ w_o @ model.W_U[:, ids]).cpu()


def diagonal_top1(matrix: Float[Tensor, "k k"]) -> float:
    """Share of rows whose largest entry is on the diagonal (the head copies that token)."""
    return float((matrix.argmax(-1) == torch.arange(matrix.shape[0])).float().mean())


@torch.no_grad()
def positional_qk(model: Decoder, n_positions: int = 32) -> Float[Tensor, "layer head offset"]:
    """Per head, the attention its QK circuit gives to each offset back (0, 1, ...).

    From positional embeddings alone: scores ``W_pos W_QK W_pos^T / sqrt(d_head)`` (biases
    included; each position normalised as the block's LayerNorm would see it with no token
    term, on weights with LayerNorm folded in) with the causal mask, softmaxed per query,
    averaged over queries by offset.

    Raises:
        MechscopeError: the model has no learned positional embeddings (rotary models keep
            position inside q.k, where no separate positional term exists).
    """
    model = adapt(model).decoder("positional QK patterns")  # (an encoder is refused here)
    if not adapt(model).learned_positions:
        raise MechscopeError(
            "positional QK patterns read learned positional embeddings (W_pos); this model "
            f"uses {model.cfg.positional_embedding_type!r} positions. Use its attention "
            "patterns (mechscope heads) instead."
        )
    n = min(n_positions, model.cfg.n_ctx)
    pos = model.pos_embed.W_pos[:n]  # (the Bridge has no model-level W_pos)
    norm = model.cfg.normalization_type
    if norm in ("LN", "LNPre"):  # as the block's LayerNorm would see a position alone
        pos = pos - pos.mean(-1, keepdim=True)
    if norm in ("LN", "LNPre", "RMS", "RMSPre"):
        pos = pos / (pos.pow(2).mean(-1, keepdim=True) + model.cfg.eps).sqrt()
    weight = adapt(model).head_weight
    q = torch.einsum("pd,lhde->lhpe", pos, weight("W_Q")) + weight("b_Q")[:, :, None]
    k = torch.einsum("pd,lhde->lhpe", pos, weight("W_K")) + weight("b_K")[:, :, None]
    scores = q @ k.transpose(-1, -2) / model.cfg.d_head**0.5
    causal = torch.ones(n, n, dtype=torch.bool, device=scores.device).tril()
    pattern = scores.masked_fill(~causal, float("-inf")).softmax(-1)
    dest = torch.arange(n, device=scores.device)
    offsets = torch.stack([pattern[..., dest[o:], dest[o:] - o].mean(-1) for o in range(n)], dim=-1)
    return offsets.cpu()


@dataclass(frozen=True)
class WeightCircuits(Result):
    """Every head's OV and QK spectra, copying score, positional preference and compositions."""

    kind: ClassVar[str] = "weight-circuits"
    copying: Float[Tensor, "layer head"]
    eigen_real: Float[Tensor, "layer head d_head"]
    eigen_imag: Float[Tensor, "layer head d_head"]
    ov_singular: Float[Tensor, "layer head d_head"]
    qk_singular: Float[Tensor, "layer head d_head"]
    composition: dict[str, Float[Tensor, "layer head later_layer later_head"]]
    """Per kind (Q, K, V): score from each head to each head of a later layer (empty when
    not computed, see `weight_circuits`)."""
    baseline: dict[str, float]
    """Per kind: the mean score of random matrices of the same shapes."""
    positional: Float[Tensor, "layer head offset"] | None = None
    """Mean attention at each offset back from positional embeddings alone (None: rotary)."""

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return regroup_v1(
            tensors, data, "composition", {k: f"composition_{k}" for k in data["kinds"]}
        )

    def preferred_offset(self) -> Int[Tensor, "layer head"] | None:
        """Per head, the offset back its positional QK attends most (None without W_pos)."""
        return None if self.positional is None else self.positional.argmax(-1)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per head: copying score, top singular values, preferred offset."""
        import pandas as pd

        n_layers, n_heads = self.copying.shape
        offsets = self.preferred_offset()
        return pd.DataFrame(
            [{"head": f"{l}.{h}", "copying": float(self.copying[l, h]),
              "ov_top_singular": float(self.ov_singular[l, h, 0]),
              "qk_top_singular": float(self.qk_singular[l, h, 0]),
              "preferred_offset": None if offsets is None else int(offsets[l, h])}
             for l in range(n_layers) for h in range(n_heads)]  # noqa: E741
        )  # fmt: skip


@torch.no_grad()
def weight_circuits(
    model: Model, n_positions: int = 32, *, composition: bool = True
) -> WeightCircuits:
    """Every head's circuits, from the weights with LayerNorm folded in (see the module doc).

    ``composition``: also compute Q/K/V composition scores (the result holds none without).

    Raises:
        MechscopeError: an encoder, or ``n_positions`` below 2 (above the model's
            context it is capped there).
    """
    if n_positions < 2:
        raise MechscopeError(
            f"n_positions (offsets of the positional QK pattern) must be 2 or more; got "
            f"{n_positions}."
        )
    decoder = folded(adapt(model).decoder("QK/OV circuits"))
    eigenvalues = ov_eigenvalues(decoder)
    order = eigenvalues.abs().argsort(-1, descending=True)
    eigenvalues = eigenvalues.gather(-1, order)
    w_q, w_k, w_v, w_o = (adapt(decoder).head_weight(n) for n in ("W_Q", "W_K", "W_V", "W_O"))
    ov = FactoredMatrix(w_v, w_o)
    qk = FactoredMatrix(w_q, w_k.transpose(-1, -2))
    kinds = list(CompositionKind)
    return WeightCircuits(
        copying=copying_score(eigenvalues).float().cpu(),
        eigen_real=eigenvalues.real.float().cpu(),
        eigen_imag=eigenvalues.imag.float().cpu(),
        ov_singular=ov.S.float().cpu(),
        qk_singular=qk.S.float().cpu(),
        composition={k.value: composition_scores(decoder, k, is_folded=True) for k in kinds}
        if composition else {},
        baseline={k.value: random_baseline(model, k) for k in kinds} if composition else {},
        positional=positional_qk(decoder, n_positions)
        if adapt(decoder).learned_positions else None,
        provenance=Provenance(config={"n_positions": n_positions}, model=model_spec(model)),
    )  # fmt: skip
