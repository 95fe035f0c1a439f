"""How good an SAE is at its site: reconstruction, sparsity, and the loss with it in place.

On held-out windows: explained variance and L0 of the SAE on the site's activations; the
fraction of features that never fired (dead) and that fire on more than 10 % of tokens
(dense); and the next-token loss clean, with the reconstruction spliced in, with the site
zero- and mean-ablated, and with the reconstruction plus its error term (which must equal
clean). The fraction of loss recovered is ``(ablated - spliced) / (ablated - clean)``. Every
loss is kept per window, so each comes with a standard error over windows.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import loss_per_position, predicted_mask
from mechscope.core.results import Result
from mechscope.features.activations import real_token_mask
from mechscope.features.splicing import check_sae_fits, splice_activation
from mechscope.models.adapter import adapt
from mechscope.models.base import Model
from mechscope.models.tokens import pad_id

if TYPE_CHECKING:
    from sae_lens import SAE

DENSE = 0.1
"""A feature firing on more than this share of tokens is dense."""
LOSSES = ("clean", "spliced", "zero_ablated", "mean_ablated", "with_error")
"""The runs whose next-token loss is measured, in `SaeEvaluation.losses` order."""


class SplicedLosses:
    """The loss measures of an evaluation holding ``losses`` (a row per run of `LOSSES`)."""

    losses: Float[Tensor, "run window"] | None

    def _losses(self) -> Tensor:
        if self.losses is None:
            raise MechscopeError(
                "this was measured on a model that predicts no next token (an encoder): "
                "there is no loss to splice into."
            )
        return self.losses

    def loss(self, run: str) -> tuple[float, float]:
        """Mean loss of ``run`` (one of `LOSSES`) over the windows, and its standard error."""
        values = self._losses()[LOSSES.index(run)].double()
        return float(values.mean()), float(values.std() / len(values) ** 0.5)

    def recovered(self, ablation: str = "zero_ablated") -> tuple[float, float]:
        """Fraction of loss recovered against ``ablation``, and its standard error.

        The ratio of window means; its standard error by the delta method over windows.
        """
        clean, spliced, ablated = (self._losses()[LOSSES.index(r)].double()
                                   for r in ("clean", "spliced", ablation))  # fmt: skip
        gap, kept = (ablated - clean).mean(), (ablated - spliced).mean()
        ratio = kept / gap
        # delta method: var(kept/gap) over windows of (ablated - spliced) - ratio (ablated - clean)
        residual = (ablated - spliced) - ratio * (ablated - clean)
        se = residual.std() / (len(residual) ** 0.5 * gap.abs())
        return float(ratio), float(se)

    def loss_metrics(self) -> dict[str, float]:
        """Every loss, loss recovered and its standard error, flat (none for an encoder)."""
        if self.losses is None:
            return {}
        out = {"n_windows": float(self.losses.shape[1])}
        for run in LOSSES:
            out[f"loss_{run}"], out[f"loss_{run}_se"] = self.loss(run)
        for ablation in ("zero_ablated", "mean_ablated"):
            name = ablation.split("_")[0]
            out[f"loss_recovered_{name}"], out[f"loss_recovered_{name}_se"] = self.recovered(
                ablation
            )
        return out


@dataclass(frozen=True)
class SaeEvaluation(SplicedLosses, Result):
    """An SAE measured at its site on held-out windows (module doc)."""

    kind: ClassVar[str] = "sae-evaluation"
    hook: str
    n_tokens: int
    """Held-out tokens whose activations were encoded (BOS and padding left out)."""
    explained_variance: float
    """1 - sum |x - x_hat|^2 / sum |x - mean x|^2 over the tokens."""
    explained_variance_per_dim: float
    """The same with every input dimension weighted equally (1 - the mean over dimensions of
    the error's share of that dimension's variance): unlike `explained_variance`, not
    dominated by a few outlier dimensions of large variance (SmolLM2's stream has three)."""
    mse: float
    """Mean squared reconstruction error per token (summed over the input width)."""
    l0: float
    """Mean number of active features per token."""
    density: Float[Tensor, " feature"]
    """Share of the tokens each feature fired on."""
    losses: Float[Tensor, "run window"] | None
    """Mean next-token loss per window, for each run of `LOSSES`; None for a model that
    predicts no next token (an encoder)."""

    def _validate(self) -> None:
        if self.losses is not None and self.losses.shape[0] != len(LOSSES):
            raise ValueError(f"losses must have {len(LOSSES)} rows, one per run of {LOSSES}")

    def _summary(self) -> dict[str, Any]:
        return {"metrics": self.metrics()}

    @property
    def dead_fraction(self) -> float:
        """Share of features that never fired on the held-out tokens."""
        return float((self.density == 0).float().mean())

    @property
    def dense_fraction(self) -> float:
        """Share of features that fired on more than `DENSE` of the tokens."""
        return float((self.density > DENSE).float().mean())

    def metrics(self) -> dict[str, float]:
        """Every number as a flat dict (what ``metrics.json`` holds)."""
        out = {"explained_variance": self.explained_variance,
               "explained_variance_per_dim": self.explained_variance_per_dim,
               "mse": self.mse, "l0": self.l0,
               "dead_fraction": self.dead_fraction, "dense_fraction": self.dense_fraction,
               "n_tokens": float(self.n_tokens)}  # fmt: skip
        return out | self.loss_metrics()

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row: every metric."""
        import pandas as pd

        return pd.DataFrame([self.metrics()])


@torch.no_grad()
def evaluate_sae(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    windows: Int[Tensor, "batch pos"],
    *,
    batch_size: int = 8,
    skip_bos: bool = True,
    progress: bool = True,
) -> SaeEvaluation:
    """Measure ``sae`` at ``hook`` on held-out ``windows`` (module doc).

    Raises:
        MechscopeError: a hook the model lacks, or an SAE of another width.
    """
    check_sae_fits(model, sae, hook)
    sae.eval()
    batches = [windows[i : i + batch_size] for i in range(0, windows.shape[0], batch_size)]
    # First pass: the clean activations (for the mean ablation and the SAE's own metrics).
    stats = _Reconstruction()
    for tokens in tqdm(batches, desc="evaluating the SAE", disable=not progress, leave=False):
        _, cache = model.run_with_cache(tokens, names_filter=hook, return_type=None)
        keep = real_token_mask(model, tokens, skip_bos)
        stats.add(sae, cache[hook][keep.to(cache[hook].device)].to(sae.dtype))
    mean_act = stats.mean.float()

    def replaced(fn: Any) -> Any:  # noqa: ANN401 - a hook function -> a context manager
        return model.hooks(fwd_hooks=[(hook, fn)])  # pyright: ignore[reportArgumentType]

    runs = [  # in `LOSSES` order
        nullcontext,
        lambda: replaced(lambda act, hook: splice_activation(sae, act, error_term=False)),  # noqa: ARG005
        lambda: replaced(lambda act, hook: torch.zeros_like(act)),  # noqa: ARG005
        lambda: replaced(lambda act, hook: mean_act.to(act.device, act.dtype).expand_as(act)),  # noqa: ARG005
        lambda: replaced(lambda act, hook: splice_activation(sae, act, error_term=True)),  # noqa: ARG005
    ]
    losses = window_losses(model, batches, runs, skip_bos=skip_bos)
    return stats.evaluation(hook, losses)


@torch.no_grad()
def evaluate_reconstruction(
    sae: "SAE[Any]", hook: str, activations: Float[Tensor, "token d_in"], batch_size: int = 4096
) -> SaeEvaluation:
    """Explained variance, L0, dead and dense features of ``sae`` on held-out ``activations``.

    The part of `evaluate_sae` that needs no model run (no spliced losses: ``losses`` None),
    for activations already read, e.g. every layer's from one pass.
    """
    sae.eval()
    stats = _Reconstruction()
    for start in range(0, activations.shape[0], batch_size):
        stats.add(sae, activations[start : start + batch_size].to(sae.device, sae.dtype))
    return stats.evaluation(hook, None)


class _Reconstruction:
    """Running sums behind explained variance, L0 and density over batches of activations."""

    def __init__(self) -> None:
        self.count = self.l0_sum = self.err_sum = 0.0
        self.sum_x = self.sum_sq = self.err_dim = self.fired = torch.zeros(0)

    def add(self, sae: "SAE[Any]", x: Tensor) -> None:
        features = sae.encode(x)
        err = ((x - sae.decode(features)).double() ** 2).sum(0).cpu()
        active = features != 0
        first = self.count == 0
        self.fired = active.sum(0).float().cpu() + (0 if first else self.fired)
        self.err_dim = err + (0 if first else self.err_dim)
        self.sum_x = x.double().sum(0).cpu() + (0 if first else self.sum_x)
        self.sum_sq = (x.double() ** 2).sum(0).cpu() + (0 if first else self.sum_sq)
        self.l0_sum += float(active.sum())
        self.err_sum += float(err.sum())
        self.count += x.shape[0]

    @property
    def mean(self) -> Tensor:
        return self.sum_x / max(self.count, 1)

    def evaluation(self, hook: str, losses: Tensor | None) -> SaeEvaluation:
        if self.count == 0:
            raise MechscopeError("no held-out tokens to evaluate the SAE on; give more text.")
        variance_dim = (self.sum_sq - self.count * self.mean**2).clamp_min(1e-12)
        return SaeEvaluation(
            hook=hook, n_tokens=int(self.count),
            explained_variance=1 - self.err_sum / float(variance_dim.sum()),
            explained_variance_per_dim=float(1 - (self.err_dim / variance_dim).mean()),
            mse=self.err_sum / self.count, l0=self.l0_sum / self.count,
            density=self.fired / self.count, losses=losses,
        )  # fmt: skip


def window_losses(
    model: Model,
    batches: Sequence[Tensor],
    runs: Sequence[Callable[[], AbstractContextManager[Any]]],
    *,
    skip_bos: bool = True,
) -> Float[Tensor, "run window"] | None:
    """Mean next-token loss of every window, with the model run inside each of ``runs``.

    Each run is a function returning the context manager to run in (hooks on, a splice); the
    prediction made at the BOS position is left out with ``skip_bos``. None for a model that
    predicts no next token (an encoder).
    """
    if not (adapt(model).causal and adapt(model).has_unembedding):
        return None
    bos = bool(model.cfg.default_prepend_bos) and skip_bos
    pad = pad_id(model)

    def loss_of(tokens: Tensor, context: AbstractContextManager[Any]) -> Tensor:
        with context:
            logits = model(tokens)
        loss = loss_per_position(logits, tokens)
        mask = predicted_mask((tokens != pad).long()).to(loss.dtype)
        if bos:
            mask[:, 0] = 0  # the prediction made at the BOS position reads no text
        return (loss * mask).sum(-1) / mask.sum(-1).clamp_min(1)

    return torch.stack([torch.cat([loss_of(tokens, make()).float().cpu() for tokens in batches])
                        for make in runs])  # fmt: skip
