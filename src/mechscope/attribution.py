"""Attribution patching: every site's patching effect from 2 forward passes and 1 backward.

Nanda 2023 ("Attribution Patching"), Syed et al. 2023 ("Attribution Patching Outperforms
Automated Circuit Discovery"). Patching a site changes its activation by
``delta = source - target``; to first order the metric then moves by
``sum(delta * dM/dact)``, the gradient taken on the target run. So one clean run (cached),
one corrupted run with gradients, and one backward pass estimate every site at once:

    estimate(site) = M(target) + sum over the site's elements and prompts of delta * grad

Directions and normalisation are those of `mechscope.patching` (denoising: target =
corrupted, source = clean), so `PatchingResult.normalised` compares directly with exact
patching. The estimate is linear: it is good for small, local changes and can miss
saturating ones (e.g. a softmax already near 1).
"""

from collections.abc import Sequence

import torch
from torch import Tensor
from transformer_lens.hook_points import HookPoint

from mechscope.metrics import scalar
from mechscope.models.base import Model
from mechscope.patching import (
    Metric,
    PatchDirection,
    PatchingResult,
    check_same_lengths,
    check_sites,
    site_mask,
)
from mechscope.sites import Site
from mechscope.tokens import TokenBatch, forward_kwargs, str_tokens


def attribution_patching(
    model: Model,
    clean: TokenBatch,
    corrupted: TokenBatch,
    metric: Metric,
    sites: Sequence[Site],
    direction: PatchDirection | str = PatchDirection.DENOISING,
    *,
    metric_name: str = "metric",
) -> PatchingResult:
    """First-order estimates of `activation_patching` for every site, in one backward pass.

    Raises:
        MechscopeError: lengths that differ, bad sites, or a metric that is not a scalar.
    """
    direction = PatchDirection(direction)
    check_same_lengths(model, clean, corrupted)
    check_sites(model, sites, clean.tokens.shape[1])
    names = sorted({s.hook_name for s in sites})
    source, target = (
        (clean, corrupted) if direction is PatchDirection.DENOISING else (corrupted, clean)
    )
    with torch.no_grad():
        source_logits, cache = model.run_with_cache(
            source.tokens, names_filter=names, **forward_kwargs(model, source)
        )
        source_value = scalar(metric(source_logits))
    kept: dict[str, Tensor] = {}

    def keep(act: Tensor, hook: HookPoint) -> None:
        kept[hook.name] = act  # pyright: ignore[reportArgumentType]

    with torch.enable_grad(), model.hooks(fwd_hooks=[(name, keep) for name in names]):  # pyright: ignore[reportArgumentType]
        value = metric(model(target.tokens, **forward_kwargs(model, target)))
        target_value = scalar(value.detach())
        grads = torch.autograd.grad(value, [kept[name] for name in names])
    # Per hook point: delta * grad summed over prompts, shaped like one prompt's activation.
    contribution = {
        name: ((cache[name] - kept[name].detach()) * grad).sum(0)
        for name, grad in zip(names, grads, strict=True)
    }
    estimates = [
        target_value
        + float(
            (contribution[s.hook_name] * site_mask(s, tuple(contribution[s.hook_name].shape))).sum()
        )
        for s in sites
    ]
    clean_value, corrupted_value = (
        (source_value, target_value)
        if direction is PatchDirection.DENOISING
        else (target_value, source_value)
    )
    return PatchingResult(
        tuple(sites),
        torch.tensor(estimates),
        clean_value,
        corrupted_value,
        direction,
        f"{metric_name} (attribution)",
        str_tokens(model, clean.unpadded(0).tolist()),
    )


def correlation(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two equally shaped tensors, NaNs dropped."""
    x, y = a.flatten().double(), b.flatten().double()
    keep = ~(x.isnan() | y.isnan())
    x, y = x[keep] - x[keep].mean(), y[keep] - y[keep].mean()
    return float((x * y).sum() / (x.norm() * y.norm()).clamp(min=1e-30))
