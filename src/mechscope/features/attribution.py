"""Which features a metric depends on: attribution, and patching between clean and corrupted.

Both run the model with the SAE spliced in *with its error term* (`mechscope.features.splice`),
so the model computes exactly what it computes without it, and every feature's activation
``a`` (at every position of every prompt) is a leaf the metric's gradient reaches:

- `attribute_features` (activation x gradient; Marks et al. 2024, "Sparse Feature Circuits";
  Syed et al. 2023): zeroing a feature changes the metric by about ``-sum(a * dM/da)`` over
  prompts and positions. The first-order estimate covers every feature from one backward pass;
  the ``top_k`` largest in size are then measured exactly, each zeroed in one more pass, and
  all of them zeroed together in one more (``together``).
- `patch_features`: the corrupted prompts run with one feature's activations taken from the
  clean prompts (its decoded difference added; the rest of the corrupted run, error term
  included, kept). First order: ``sum((a_clean - a_corrupted) * dM/da)`` on the corrupted
  run; the ``top_k`` exactly, alone and together. Then every feature at once (the error term
  kept from the corrupted run) and the error term alone (every feature kept): how much of the
  site's effect the dictionary carries, and how much lives in what it fails to reconstruct.
  Normalised as activation patching is: corrupted 0, clean 1.

Effects are changes of the metric (a mean over prompts), in its units. The estimate is
linear and can miss saturating effects: the exact column is what to quote.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import Metric, scalar
from mechscope.core.results import Result
from mechscope.features.splicing import check_sae_fits
from mechscope.models.adapter import adapt
from mechscope.models.base import Model

if TYPE_CHECKING:
    from sae_lens import SAE


@dataclass(frozen=True)
class FeatureAttribution(Result):
    """Each feature's estimated effect on a metric, and the exact effect of the top ones."""

    kind: ClassVar[str] = "feature-attribution"
    hook: str
    metric: str
    method: str
    """``ablation`` (`attribute_features`) or ``patching`` (`patch_features`)."""
    baseline: float
    """The metric on the run intervened on (the prompts; the corrupted prompts)."""
    reference: float | None
    """Patching: the metric on the clean prompts (None for attribution)."""
    estimate: Float[Tensor, " feature"]
    """First-order change of the metric when the feature is zeroed (or patched in)."""
    top: Int[Tensor, " top"]
    """Features measured exactly (largest estimates in size first)."""
    exact: Float[Tensor, " top"]
    """Their exact change of the metric."""
    together: float | None = None
    """The exact change with all of ``top`` zeroed (or patched) at once."""
    all_features: float | None = None
    """Patching: the exact change with every feature patched (the SAE's error term kept from
    the corrupted run)."""
    error_term: float | None = None
    """Patching: the exact change with only the SAE's error term patched (every feature kept
    from the corrupted run). With `all_features`, how much of the site's effect the dictionary
    carries and how much its reconstruction misses."""

    def normalised(self, effect: Tensor) -> Tensor:
        """Patching effects as a share of the clean - corrupted gap (0 corrupted, 1 clean)."""
        if self.reference is None:
            raise MechscopeError("only feature patching has a clean reference to normalise by.")
        return effect / (self.reference - self.baseline)

    def table(self) -> list[dict[str, Any]]:
        """The exactly measured features: estimate and exact effect."""
        return [{"feature": int(f), "estimate": float(self.estimate[f]), "exact": float(e)}
                for f, e in zip(self.top, self.exact, strict=True)]  # fmt: skip

    def _summary(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "reference": self.reference, "top": self.table(),
                "together": self.together}  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per exactly measured feature."""
        import pandas as pd

        return pd.DataFrame(self.table())


def _batch(batch: TokenBatch | Tensor) -> TokenBatch:
    if isinstance(batch, TokenBatch):
        return batch
    return TokenBatch(batch, torch.ones_like(batch))


def _metric_value(model: Model, batch: TokenBatch, metric: Metric) -> Tensor:
    logits = model(batch.inputs, **adapt(model).forward_kwargs(batch))
    return metric(logits)


def _run_with_features(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    batch: TokenBatch,
    metric: Metric,
    edit: Callable[[Tensor], Tensor] | None = None,
    *,
    grad: bool = False,
) -> tuple[float, Tensor, Tensor | None, Tensor]:
    """The metric with the SAE spliced in (error term kept), the features and their gradient.

    Also the SAE's error term at the site, ``x - decode(features)`` (before any edit).
    ``edit`` maps the features ([batch, pos, feature]) to the ones decoded in their place.
    """
    seen: dict[str, Tensor] = {}

    def replace(act: Tensor, hook: object) -> Tensor:  # noqa: ARG001 - a hook
        x = act.to(sae.dtype)
        features = sae.encode(x).detach()
        if grad:
            features.requires_grad_(True)
        seen["features"] = features
        edited = features if edit is None else edit(features)
        reconstruction = sae.decode(features.detach())
        seen["error"] = (x - reconstruction).detach()
        # x + (decode(edited) - decode(features)): exactly x when nothing is edited, and the
        # gradient reaches the features through the first decode.
        return (x + (sae.decode(edited) - reconstruction)).to(act.dtype)

    with torch.set_grad_enabled(grad), model.hooks(fwd_hooks=[(hook, replace)]):  # pyright: ignore[reportArgumentType]
        value = _metric_value(model, batch, metric)
        scalar(value.detach())
        gradient = torch.autograd.grad(value, seen["features"])[0] if grad else None
    return float(value.detach()), seen["features"].detach(), gradient, seen["error"]


def _exact(
    model: Model, sae: "SAE[Any]", hook: str, batch: TokenBatch, metric: Metric,
    top: Tensor, baseline: float,
    replacement: Callable[[list[int]], Callable[[Tensor], Tensor]], progress: bool,
) -> tuple[Tensor, float]:  # fmt: skip
    """Each of ``top``'s exact effect alone, and all of them together."""
    effects = []
    groups = [[feature] for feature in top.tolist()] + [top.tolist()]
    with torch.no_grad():
        for group in tqdm(groups, desc="exact feature effects", disable=not progress,
                          leave=False):  # fmt: skip
            value, _, _, _ = _run_with_features(model, sae, hook, batch, metric,
                                             replacement(group))  # fmt: skip
            effects.append(value - baseline)
    return torch.tensor(effects[:-1]), effects[-1]


def attribute_features(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    batch: TokenBatch | Int[Tensor, "batch pos"],
    metric: Metric,
    *,
    top_k: int = 10,
    progress: bool = True,
) -> FeatureAttribution:
    """Each feature's effect on ``metric`` when zeroed: estimated for all, exact for ``top_k``.

    Raises:
        MechscopeError: a hook the model lacks, an SAE of another width, or a metric that is
            not a scalar.
    """
    check_sae_fits(model, sae, hook)
    batch = _batch(batch)
    baseline, features, gradient, _ = _run_with_features(model, sae, hook, batch, metric,
                                                         grad=True)  # fmt: skip
    assert gradient is not None
    estimate = -(features * gradient).flatten(0, -2).sum(0).float().cpu()
    top = estimate.abs().topk(min(top_k, estimate.numel())).indices

    def zeroed(features: list[int]) -> Callable[[Tensor], Tensor]:
        def edit(acts: Tensor) -> Tensor:
            out = acts.clone()
            out[..., features] = 0
            return out

        return edit

    exact, together = _exact(model, sae, hook, batch, metric, top, baseline, zeroed, progress)
    return FeatureAttribution(
        hook=hook, metric=metric.name, method="ablation", baseline=baseline, reference=None,
        estimate=estimate, top=top, exact=exact, together=together,
    )  # fmt: skip


def patch_features(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    clean: TokenBatch | Int[Tensor, "batch pos"],
    corrupted: TokenBatch | Int[Tensor, "batch pos"],
    metric: Metric,
    *,
    top_k: int = 10,
    progress: bool = True,
) -> FeatureAttribution:
    """Each feature patched from the clean into the corrupted run (module doc).

    Raises:
        MechscopeError: a hook the model lacks, an SAE of another width, prompts of different
            shapes, or a metric that is not a scalar.
    """
    check_sae_fits(model, sae, hook)
    clean, corrupted = _batch(clean), _batch(corrupted)
    if clean.tokens.shape != corrupted.tokens.shape:
        raise MechscopeError(
            f"clean and corrupted prompts must have the same shape to patch features position "
            f"by position; got {tuple(clean.tokens.shape)} and {tuple(corrupted.tokens.shape)}."
        )
    with torch.no_grad():
        reference, clean_features, _, clean_error = _run_with_features(
            model, sae, hook, clean, metric
        )
    baseline, features, gradient, _ = _run_with_features(model, sae, hook, corrupted, metric,
                                                      grad=True)  # fmt: skip
    assert gradient is not None
    estimate = ((clean_features - features) * gradient).flatten(0, -2).sum(0).float().cpu()
    top = estimate.abs().topk(min(top_k, estimate.numel())).indices

    def patched(features: list[int]) -> Callable[[Tensor], Tensor]:
        def edit(acts: Tensor) -> Tensor:
            out = acts.clone()
            out[..., features] = clean_features[..., features]
            return out

        return edit

    exact, together = _exact(model, sae, hook, corrupted, metric, top, baseline, patched,
                             progress)  # fmt: skip

    def error_patched(act: Tensor, hook: object) -> Tensor:  # noqa: ARG001 - a hook
        x = act.to(sae.dtype)
        error = x - sae.decode(sae.encode(x))
        return (x + (clean_error - error)).to(act.dtype)

    with torch.no_grad():
        every, _, _, _ = _run_with_features(model, sae, hook, corrupted, metric,
                                         lambda _: clean_features)  # fmt: skip
        with model.hooks(fwd_hooks=[(hook, error_patched)]):  # pyright: ignore[reportArgumentType]
            error_value = float(_metric_value(model, corrupted, metric))
    return FeatureAttribution(
        hook=hook, metric=metric.name, method="patching", baseline=baseline,
        reference=reference, estimate=estimate, top=top, exact=exact, together=together,
        all_features=every - baseline, error_term=error_value - baseline,
    )  # fmt: skip
