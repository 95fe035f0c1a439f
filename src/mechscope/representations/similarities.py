"""Representational similarity between layers: CKA, SVCCA and PWCCA.

Every measure compares two representations of the *same* ``n`` units (rows), features
centred first:

- linear CKA (Kornblith et al. 2019): ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with
  ``K = X X^T``. ``unbiased=True`` (default) uses the unbiased HSIC estimator of Song et al.
  (2012), as Nguyen et al. (2021) do, computed exactly in feature space (``O(n d^2)``, no
  ``n x n`` matrix), so it runs on 200k words; ``unbiased=False`` is Kornblith et al.'s
  ``|Y^T X|_F^2 / (|X^T X|_F |Y^T Y|_F)``.
- RBF CKA: ``K_ij = exp(-|x_i - x_j|^2 / (2 sigma^2))`` with ``sigma`` = ``rbf_sigma`` times the
  median pairwise distance (Kornblith et al.), on ``n x n`` kernels: use ``minibatch``.
- minibatch CKA (Nguyen et al. 2021): the unbiased HSICs averaged over minibatches of units
  before the ratio is taken; memory and time linear in ``n``.
- SVCCA (Raghu et al. 2017): each side reduced by SVD to the directions keeping 99 % of its
  variance, then the mean canonical correlation.
- PWCCA (Morcos et al. 2018): canonical correlations weighted by how much of ``X``'s
  features each canonical variate accounts for (``sum_j |<h_i, x_j>|``).

Known answers (tested): CKA(X, X) = 1; invariance to orthogonal transforms and isotropic
scaling; equality with a straightforward reference implementation.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.representations.activations import Activations
from mechscope.representations.choices import Method


def _centre(x: Tensor) -> Tensor:
    x = x.double()
    return x - x.mean(0)


def hsic_unbiased(k: Float[Tensor, "n n"], l: Float[Tensor, "n n"]) -> Tensor:  # noqa: E741
    """Song et al.'s unbiased HSIC of two kernel matrices (n > 3)."""
    n = k.shape[0]
    k = k.clone().fill_diagonal_(0)
    l = l.clone().fill_diagonal_(0)  # noqa: E741
    ones = torch.ones(n, dtype=k.dtype)
    trace = (k * l).sum()
    term = (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
    cross = 2 / (n - 2) * (ones @ k @ l @ ones)
    return (trace + term - cross) / (n * (n - 3))


def _linear_terms(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased HSIC of linear kernels ``X X^T`` and ``Y Y^T`` without forming them."""
    n = x.shape[0]
    nx, ny = x.square().sum(1), y.square().sum(1)  # the kernels' diagonals
    trace = (x.T @ y).square().sum() - (nx * ny).sum()  # tr(K~ L~)
    kx = x @ x.sum(0) - nx  # K~ 1
    ly = y @ y.sum(0) - ny  # L~ 1
    term = kx.sum() * ly.sum() / ((n - 1) * (n - 2))
    return (trace + term - 2 / (n - 2) * (kx @ ly)) / (n * (n - 3))


def linear_cka(x: Float[Tensor, "n a"], y: Float[Tensor, "n b"], *, unbiased: bool = True) -> float:
    """Linear CKA of two representations of the same units (see the module docstring)."""
    x, y = _centre(x), _centre(y)
    if unbiased:
        if x.shape[0] < 4:
            raise MechscopeError("unbiased CKA needs at least 4 units.")
        xy, xx, yy = _linear_terms(x, y), _linear_terms(x, x), _linear_terms(y, y)
        return float(xy / (xx * yy).clamp(min=1e-300).sqrt())
    xy = (y.T @ x).square().sum()
    return float(xy / ((x.T @ x).square().sum().sqrt() * (y.T @ y).square().sum().sqrt()))


def rbf_kernel(x: Float[Tensor, "n d"], sigma_fraction: float = 0.8) -> Float[Tensor, "n n"]:
    """``exp(-d^2 / (2 sigma^2))``, sigma = ``sigma_fraction`` x the median distance."""
    x = x.double()
    norms = x.square().sum(1)
    squared = (norms[:, None] + norms[None, :] - 2 * x @ x.T).clamp(min=0).fill_diagonal_(0)
    median = squared[~torch.eye(len(x), dtype=torch.bool)].median().sqrt()
    sigma = sigma_fraction * median.clamp(min=1e-12)
    return torch.exp(-squared / (2 * sigma**2))


def kernel_cka(
    x: Float[Tensor, "n a"],
    y: Float[Tensor, "n b"],
    *,
    rbf: bool = False,
    rbf_sigma: float = 0.8,
    minibatch: int | None = None,
    seed: int = 0,
) -> float:
    """CKA from the unbiased HSIC of kernel matrices, over minibatches when given.

    With ``minibatch``, units are shuffled (seeded) and split into minibatches of that size
    (a last short one is dropped); the HSICs are averaged before the ratio (Nguyen et al.).
    """
    x, y = _centre(x), _centre(y)
    n = x.shape[0]
    size = n if minibatch is None else minibatch
    if size < 4 or n < size:
        raise MechscopeError(f"minibatches need 4..{n} units; got {size}.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    kernel = (lambda z: rbf_kernel(z, rbf_sigma)) if rbf else (lambda z: z @ z.T)
    sums = torch.zeros(3, dtype=torch.float64)
    for start in range(0, n - size + 1, size):
        index = order[start : start + size]
        k, l = kernel(x[index]), kernel(y[index])  # noqa: E741
        sums += torch.stack([hsic_unbiased(k, l), hsic_unbiased(k, k), hsic_unbiased(l, l)])
    return float(sums[0] / (sums[1] * sums[2]).clamp(min=1e-300).sqrt())


def _basis(x: Tensor, keep_variance: float | None) -> tuple[Tensor, Tensor, Tensor]:
    """An orthonormal basis of ``x``'s column space (SVD), reduced to ``keep_variance``."""
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    rank = int((s > s[0] * 1e-10).sum()) if len(s) else 0
    if keep_variance is not None:
        share = (s[:rank] ** 2).cumsum(0) / (s[:rank] ** 2).sum()
        rank = min(rank, int((share < keep_variance).sum()) + 1)
    return u[:, :rank], s[:rank], vh[:rank]


def canonical_correlations(
    x: Float[Tensor, "n a"], y: Float[Tensor, "n b"], *, keep_variance: float | None = None
) -> tuple[Tensor, Tensor]:
    """Canonical correlations of ``x`` and ``y`` and ``x``'s canonical variates (columns)."""
    x, y = _centre(x), _centre(y)
    ux, _, _ = _basis(x, keep_variance)
    uy, _, _ = _basis(y, keep_variance)
    u, rho, _ = torch.linalg.svd(ux.T @ uy, full_matrices=False)
    return rho.clamp(0, 1), ux @ u


def svcca(
    x: Float[Tensor, "n a"], y: Float[Tensor, "n b"], *, keep_variance: float = 0.99
) -> float:
    """SVCCA: the mean canonical correlation after keeping ``keep_variance`` of each side."""
    rho, _ = canonical_correlations(x, y, keep_variance=keep_variance)
    return float(rho.mean())


def pwcca(x: Float[Tensor, "n a"], y: Float[Tensor, "n b"]) -> float:
    """PWCCA: canonical correlations weighted by their share of ``x``'s features."""
    rho, variates = canonical_correlations(x, y)
    weights = (variates.T @ _centre(x)).abs().sum(1)
    return float((weights * rho).sum() / weights.sum())


def similarity(
    x: Float[Tensor, "n a"],
    y: Float[Tensor, "m b"],  # m == n, checked with a one-line error
    method: Method = Method.CKA,
    *,
    unbiased: bool = True,
    minibatch: int | None = None,
    rbf_sigma: float = 0.8,
    seed: int = 0,
) -> float:
    """One similarity between two representations of the same units.

    Raises:
        MechscopeError: the two hold different numbers of units.
    """
    if x.shape[0] != y.shape[0]:
        raise MechscopeError(
            f"similarity compares the same units: got {x.shape[0]} and {y.shape[0]} rows."
        )
    if method is Method.CKA:
        if minibatch is None:
            return linear_cka(x, y, unbiased=unbiased)
        return kernel_cka(x, y, minibatch=minibatch, seed=seed)
    if method is Method.RBF_CKA:
        return kernel_cka(x, y, rbf=True, rbf_sigma=rbf_sigma, minibatch=minibatch, seed=seed)
    if method is Method.SVCCA:
        return svcca(x, y)
    return pwcca(x, y)


@dataclass(frozen=True)
class Similarity(Result):
    """A boundary x boundary similarity matrix, within one model or between two."""

    kind: ClassVar[str] = "similarity"
    method: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    matrix: Float[Tensor, "row column"]
    n_units: int
    row_model: str = ""
    column_model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def _validate(self) -> None:
        if self.matrix.shape != (len(self.rows), len(self.columns)):
            raise ValueError("matrix must be [rows, columns]")

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per (row boundary, column boundary)."""
        import pandas as pd

        return pd.DataFrame([{"row": r, "column": c, "method": self.method,
                              "value": float(self.matrix[i, j])}
                             for i, r in enumerate(self.rows)
                             for j, c in enumerate(self.columns)])  # fmt: skip


CCA_MIN_RATIO = 5
"""SVCCA and PWCCA need at least this many units per feature. Few units make unrelated
representations look alike: on two independent Gaussian representations of 128 features,
SVCCA measured 0.95 with 0.5 units per feature, 0.83 with 1, 0.61 with 2, 0.39 with 5, 0.27
with 10 and 0.19 with 20 (PWCCA 1.00, 1.00, 0.64, 0.39, 0.27, 0.19). Read values against that
floor; CKA has no such bias with the unbiased estimator."""


def similarity_matrix(
    a: Activations,
    b: Activations | None = None,
    *,
    method: Method = Method.CKA,
    unbiased: bool = True,
    minibatch: int | None = None,
    rbf_sigma: float = 0.8,
    max_units: int | None = None,
    standardize: bool = False,
    seed: int = 0,
    progress: bool = True,
) -> Similarity:
    """Every boundary of ``a`` against every boundary of ``b`` (default: ``a`` itself).

    ``max_units``: compare a seeded random sample of that many units (SVCCA/PWCCA and
    full RBF kernels grow with the units). ``standardize``: z-score every feature first, so
    that a few huge features (a decoder's outlier dimensions) do not decide linear CKA alone.

    Raises:
        MechscopeError: ``a`` and ``b`` hold different units, or SVCCA/PWCCA on fewer than
            `CCA_MIN_RATIO` units per feature.
    """
    other = a if b is None else b
    if len(a.units) != len(other.units) or (b is not None and a.units != b.units):
        raise MechscopeError(
            "the two activations hold different units; collect both on the same sentences "
            "with the same pooling (two models with different tokenizers: use a word or "
            "sentence pooling)."
        )
    index: Sequence[int] | Tensor = range(len(a.units))
    if max_units is not None and max_units < len(a.units):
        generator = torch.Generator().manual_seed(seed)
        index = torch.randperm(len(a.units), generator=generator)[:max_units].sort().values
    n = len(index)
    width = max(a.values.shape[-1], other.values.shape[-1])
    if method in (Method.SVCCA, Method.PWCCA) and n < CCA_MIN_RATIO * width:
        raise MechscopeError(
            f"{method.value} on {n} units of {width} features is degenerate (canonical "
            f"correlations near 1 whatever the layers); give at least {CCA_MIN_RATIO * width} "
            f"units ({CCA_MIN_RATIO} per feature: more sentences, or --max-units unset) or use "
            "CKA."
        )
    symmetric = b is None
    matrix = torch.full((a.n_boundaries, other.n_boundaries), math.nan)

    def read(acts: Activations, i: int) -> Tensor:
        x = acts.layer(i)[index]
        return (x - x.mean(0)) / x.std(0).clamp(min=1e-6) if standardize else x

    layers_a = [read(a, i) for i in range(a.n_boundaries)]
    layers_b = layers_a if symmetric else [read(other, j) for j in range(other.n_boundaries)]
    pairs = [(i, j) for i in range(a.n_boundaries) for j in range(other.n_boundaries)
             if not symmetric or j >= i]  # fmt: skip
    for i, j in tqdm(pairs, desc=f"similarity ({method.value})", disable=not progress):
        value = similarity(layers_a[i], layers_b[j], method, unbiased=unbiased,
                           minibatch=minibatch, rbf_sigma=rbf_sigma, seed=seed)  # fmt: skip
        matrix[i, j] = value
        if symmetric and method is not Method.PWCCA:  # PWCCA weights by x's side: asymmetric
            matrix[j, i] = value
    if symmetric and method is Method.PWCCA:
        for i, j in pairs:
            if i != j:
                matrix[j, i] = similarity(layers_b[j], layers_a[i], method)
    return Similarity(
        method.value,
        a.boundaries,
        other.boundaries,
        matrix,
        n,
        a.provenance.model,
        other.provenance.model,
        extra={
            "unbiased": unbiased,
            "minibatch": minibatch,
            "rbf_sigma": rbf_sigma,
            "standardize": standardize,
        },
        provenance=Provenance(model=a.provenance.model),
    )
