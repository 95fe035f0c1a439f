"""Rank of token representations: effective rank, distance to rank one, the spectrum.

- effective rank (Roy & Vetterli 2007): ``exp(H(p))`` with ``p = sigma / sum(sigma)`` the
  normalised singular values: n for an n x n identity, 1 for a rank-one matrix;
- res(X) (Dong et al. 2021): ``||X - 1 x^T||_F / ||X||_F`` with ``x`` the mean row (the
  closest matrix whose rows are all equal, in Frobenius norm): 0 when every token has the same
  representation, the collapse that pure attention drives towards doubly exponentially in
  depth. (Dong et al. bound a composite l1/l-infinity norm; the Frobenius version is the one
  with a closed-form minimiser.)

Each prompt is one matrix (its real tokens as rows); figures are means over prompts.

Feature redundancy (`feature_redundancy`, beside effective rank) pools every real token of
the batch: the mean absolute off-diagonal correlation between the d_model features (0: all
uncorrelated, 1: all copies of one), and how many principal components hold 90 % of the
variance (few: the representation lives in a low-dimensional subspace).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.batch import ImageBatch, TokenBatch
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, hook_name
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model
from mechscope.models.legacy import HookedTransformer
from mechscope.models.run import boundary_stream


def effective_rank(matrix: Float[Tensor, "rows cols"]) -> float:
    """Roy & Vetterli's effective rank (see the module docstring)."""
    sigma = torch.linalg.svdvals(matrix.double())
    if float(sigma.sum()) == 0:
        return 0.0
    p = sigma / sigma.sum()
    return float(torch.exp(-torch.special.xlogy(p, p).sum()))


def distance_to_rank_one(matrix: Float[Tensor, "rows cols"]) -> float:
    """res(X) = ||X - 1 x^T|| / ||X||, x the mean row (see the module docstring)."""
    matrix = matrix.double()
    norm = float(matrix.norm())
    if norm == 0:
        return 0.0
    return float((matrix - matrix.mean(0, keepdim=True)).norm()) / norm


@dataclass(frozen=True)
class RankStats(Result):
    """Per boundary (embeddings, after each block) and prompt: effective rank and res(X)."""

    kind: ClassVar[str] = "rank-stats"
    effective_rank: Float[Tensor, "boundary prompt"]
    res: Float[Tensor, "boundary prompt"]
    spectrum: Float[Tensor, "boundary k"]
    """Singular values normalised to sum 1, mean over prompts (the first k)."""

    def _summary(self) -> dict[str, Any]:
        return {"summary": self.summary()}

    def summary(self) -> list[dict[str, float | int]]:
        """Per boundary: mean and standard error over prompts of both measures."""
        rows = []
        n = self.res.shape[1]
        for b in range(self.res.shape[0]):
            erank, res = self.effective_rank[b].double(), self.res[b].double()
            rows.append({"boundary": b, "effective_rank": float(erank.mean()),
                         "effective_rank_se": float(erank.std() / n**0.5) if n > 1 else 0.0,
                         "res": float(res.mean()),
                         "res_se": float(res.std() / n**0.5) if n > 1 else 0.0})  # fmt: skip
        return rows

    @classmethod
    def concatenated(cls, parts: "Sequence[RankStats]") -> "RankStats":
        """The stats of the parts' prompts together, in order, as one batch of them all gives.

        Per-prompt measures are concatenated; the spectrum is the parts' prompt-weighted mean.
        """
        sizes = torch.tensor([part.res.shape[1] for part in parts], dtype=torch.float64)
        spectra = torch.stack([part.spectrum.double() for part in parts])
        weights = (sizes / sizes.sum())[:, None, None]
        return cls(torch.cat([part.effective_rank for part in parts], dim=1),
                   torch.cat([part.res for part in parts], dim=1),
                   (spectra * weights).sum(0).float(), provenance=parts[0].provenance)  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary (see `summary`)."""
        import pandas as pd

        return pd.DataFrame(self.summary())


def rank_of_representations(
    stream: Float[Tensor, "boundary batch pos d_model"], attention_mask: Tensor, k: int = 16
) -> RankStats:
    """`RankStats` of given representations (each prompt's real tokens as rows)."""
    n_boundaries, n_prompts = stream.shape[:2]
    erank = torch.zeros(n_boundaries, n_prompts)
    res = torch.zeros(n_boundaries, n_prompts)
    spectrum = torch.zeros(n_boundaries, k)
    for i in range(n_prompts):
        real = attention_mask[i].bool().to(stream.device)  # left or right padding alike
        for b in range(n_boundaries):
            matrix = stream[b, i][real].double().cpu()
            erank[b, i] = effective_rank(matrix)
            res[b, i] = distance_to_rank_one(matrix)
            sigma = torch.linalg.svdvals(matrix)
            sigma = sigma / sigma.sum().clamp(min=1e-30)
            spectrum[b, : min(k, len(sigma))] += sigma[:k].float() / n_prompts
    return RankStats(erank, res, spectrum)


@torch.no_grad()
def rank_stats(model: Model, batch: TokenBatch | ImageBatch, k: int = 16) -> RankStats:
    """`RankStats` of the residual stream at every boundary of ``model`` on ``batch``."""
    stream = boundary_stream(model, batch)
    result = rank_of_representations(stream, batch.attention_mask, k)
    return RankStats(result.effective_rank, result.res, result.spectrum,
                     provenance=Provenance(model=model_spec(model)))  # fmt: skip


def feature_redundancy(features: Float[Tensor, "rows d_model"]) -> tuple[float, int]:
    """(mean |off-diagonal correlation|, principal components for 90 % of the variance).

    Both from the d_model x d_model covariance (one product, one symmetric eigendecomposition,
    in float64). Constant features (zero variance) count as uncorrelated with everything.
    """
    x = features.double()
    centred = x - x.mean(0)
    cov = centred.T @ centred / x.shape[0]
    d = cov.shape[0]
    std = cov.diagonal().clamp(min=0).sqrt()
    live = std > 1e-12
    corr = cov[live][:, live] / (std[live, None] * std[None, live])
    off = corr.abs().sum() - corr.diagonal().abs().sum()
    mean_corr = float(off / (d * (d - 1))) if d > 1 else 0.0
    variance = torch.linalg.eigvalsh(cov).flip(0).clamp(min=0)
    if float(variance.sum()) == 0:
        return mean_corr, 0
    share = variance.cumsum(0) / variance.sum()
    return mean_corr, int((share < 0.9).sum()) + 1


@dataclass(frozen=True)
class FeatureRedundancy(Result):
    """Per boundary, over every real token of the batch: feature correlation and PCs for 90 %."""

    kind: ClassVar[str] = "feature-redundancy"
    mean_abs_corr: Float[Tensor, " boundary"]
    """Mean absolute off-diagonal correlation between the d_model features."""
    components_90: Int[Tensor, " boundary"]
    """Principal components that hold 90 % of the variance."""

    def _summary(self) -> dict[str, Any]:
        return {"summary": self.to_dataframe().to_dict("records")}

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary."""
        import pandas as pd

        return pd.DataFrame({"boundary": range(len(self.components_90)),
                             "mean_abs_corr": self.mean_abs_corr.tolist(),
                             "components_90": self.components_90.tolist()})  # fmt: skip


def redundancy_of_representations(
    stream: Float[Tensor, "boundary batch pos d_model"], attention_mask: Tensor
) -> FeatureRedundancy:
    """`FeatureRedundancy` of given representations (the real tokens of every prompt)."""
    real = attention_mask.bool().to(stream.device)
    rows = [feature_redundancy(stream[b][real].cpu()) for b in range(stream.shape[0])]
    return FeatureRedundancy(torch.tensor([r[0] for r in rows]),
                             torch.tensor([r[1] for r in rows]))  # fmt: skip


@torch.no_grad()
def redundancy_stats(model: Model, batch: TokenBatch | ImageBatch) -> FeatureRedundancy:
    """`FeatureRedundancy` of the residual stream at every boundary of ``model`` on ``batch``."""
    result = redundancy_of_representations(boundary_stream(model, batch), batch.attention_mask)
    return FeatureRedundancy(result.mean_abs_corr, result.components_90,
                             provenance=Provenance(model=model_spec(model)))  # fmt: skip


@contextmanager
def without_skips(model: HookedTransformer) -> Iterator[HookedTransformer]:
    """Inside, every block's output replaces the residual stream instead of adding to it.

    Through hooks (removed on exit, even on error): block l's ``hook_resid_post`` returns
    what its attention (plus its MLP, if any) wrote, not the input plus it. Dong et al. 2021's
    setting for rank collapse.
    """
    writes: dict[int, Tensor] = {}

    def keep(layer: int, part: str):  # noqa: ANN202 - a hook factory
        def hook(value: Tensor, hook: Any) -> None:  # noqa: ANN401, ARG001
            writes[layer] = value if part == "attn" else writes[layer] + value

        return hook

    def replace(layer: int):  # noqa: ANN202 - a hook factory
        def hook(value: Tensor, hook: Any) -> Tensor:  # noqa: ANN401, ARG001
            return writes[layer]

        return hook

    hooks: list[tuple[str | Any, Any]] = []
    for layer in range(model.cfg.n_layers):
        hooks.append((hook_name(Component.ATTN_OUT, layer), keep(layer, "attn")))
        if not model.cfg.attn_only:
            hooks.append((hook_name(Component.MLP_OUT, layer), keep(layer, "mlp")))
        hooks.append((hook_name(Component.RESID_POST, layer), replace(layer)))
    with model.hooks(fwd_hooks=hooks):
        yield model
