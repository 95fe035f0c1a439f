"""Attribution patching: every site's patching effect from 2 forward passes and 1 backward.

Nanda 2023 ("Attribution Patching"), Syed et al. 2023 ("Attribution Patching Outperforms
Automated Circuit Discovery"). Patching a site changes its activation by
``delta = source - target``; to first order the metric then moves by
``sum(delta * dM/dact)``, the gradient taken on the target run. So one clean run (cached),
one corrupted run with gradients, and one backward pass estimate every site at once:

    estimate(site) = M(target) + sum over the site's elements and prompts of delta * grad

Directions and normalisation are those of `mechscope.interventions.activation` (denoising: target =
corrupted, source = clean), so `PatchingResult.normalised` compares directly with exact
patching. The estimate is linear: it is good for small, local changes and can miss
saturating ones (e.g. a softmax already near 1).
"""

from collections.abc import Sequence

import torch
from torch import Tensor

from mechscope.core.metrics import scalar
from mechscope.core.results import Provenance
from mechscope.core.sites import Site
from mechscope.interventions.activation import (
    PatchDirection,
    PatchingResult,
    check_sites,
    source_and_target,
)
from mechscope.interventions.engine import metric_rows, reads_rows, site_mask
from mechscope.interventions.runs import PairedRuns
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.run import keep_for_gradient, keyed_hooks


def attribution_patching(
    runs: PairedRuns,
    sites: Sequence[Site],
    direction: PatchDirection | str = PatchDirection.DENOISING,
) -> PatchingResult:
    """First-order estimates of `activation_patching` for every site, in one backward pass.

    The source activations come from ``runs`` (one pass of the source side, unless they are
    cached already); the target runs once, with gradients, reading only the metric's rows
    when the metric declares its positions. A target side that has not run yet is not run
    again without gradients: its baseline is the value of that pass.

    Raises:
        MechscopeError: bad sites, or a metric that is not a scalar.
    """
    direction = PatchDirection(direction)
    model = runs.model
    check_sites(model, sites, runs.clean.batch.attention_mask.shape[1])
    names = sorted({s.hook_name for s in sites})
    source, target = source_and_target(runs, direction)
    cache = source.get(names)
    kept: dict[str, Tensor] = {}

    metric, kwargs = runs.metric, adapt(model).forward_kwargs(target.batch)
    with torch.enable_grad(), model.hooks(fwd_hooks=keyed_hooks(names, keep_for_gradient(kept))):  # pyright: ignore[reportArgumentType]
        if reads_rows(model, metric):  # only the metric's rows are unembedded
            assert metric.read is not None and metric.positions is not None
            resid = model(target.batch.inputs, stop_at_layer=model.cfg.n_layers, **kwargs)
            rows = metric_rows(model, resid, metric.positions, columns=metric.columns)
            read = metric.row_reader
            assert read is not None
            value = read(rows)
        else:
            value = metric(model(target.batch.inputs, **kwargs))
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
    source_value = scalar(runs.metric(source.logits))
    target_baseline = scalar(runs.metric(target.logits)) if target.has_run else target_value
    denoising = direction is PatchDirection.DENOISING
    return PatchingResult(
        tuple(sites),
        torch.tensor(estimates),
        source_value if denoising else target_baseline,
        target_baseline if denoising else source_value,
        direction,
        f"{runs.metric.name} (attribution)",
        runs.clean_tokens(),
        provenance=Provenance(
            config={"direction": direction.value, "method": "attribution"},
            model=model_spec(model),
        ),
    )


def correlation(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two equally shaped tensors, NaNs dropped."""
    x, y = a.flatten().double(), b.flatten().double()
    keep = ~(x.isnan() | y.isnan())
    x, y = x[keep] - x[keep].mean(), y[keep] - y[keep].mean()
    return float((x * y).sum() / (x.norm() * y.norm()).clamp(min=1e-30))
