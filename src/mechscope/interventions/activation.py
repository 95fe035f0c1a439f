"""Activation patching: one engine, driven by `Site` values, many patches per forward pass.

Method (Meng et al. 2022; Wang et al. 2022; Heimersheim & Nanda 2024, "How to use and
interpret activation patching"). Two prompt sets of equal token lengths: *clean* (the model
does the task) and *corrupted* (a key detail changed). A metric (logit difference, loss,
probability, or any ``logits -> scalar``) is measured on a *target* run in which one site's
activation is replaced by its value from the *source* run:

- denoising: target = corrupted, source = clean. A high value means the site *suffices* to
  restore the behaviour;
- noising: target = clean, source = corrupted. A low value means the site is *necessary*.

`PatchingResult.normalised` maps each value so that the corrupted run is 0 and the clean
run is 1, in both directions.

Batching: every site is one group of `mechscope.interventions.engine.patch_groups`, many per
forward pass, with results equal to TransformerLens's ``patching.py`` (tested to 1e-5). The
source activations come from one ``run_with_cache`` limited (``names_filter``) to the hook
points of the sites.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.core.metrics import normalise
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, Site
from mechscope.interventions.choices import PatchDirection
from mechscope.interventions.engine import patch_groups, start_hooks
from mechscope.interventions.runs import PairedRuns, RunCache, check_same_lengths
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import tokenize

PATCHABLE = (
    Component.RESID_PRE, Component.RESID_MID, Component.RESID_POST, Component.ATTN_OUT,
    Component.MLP_OUT, Component.Q, Component.K, Component.V, Component.Z,
    Component.PATTERN, Component.ATTN_SCORES,
)  # fmt: skip


@dataclass(frozen=True)
class PatchingResult(Result):
    """The metric with each site patched, and the unpatched clean and corrupted values."""

    kind: ClassVar[str] = "patching"
    sites: tuple[Site, ...]
    values: Float[Tensor, " site"]
    clean: float
    corrupted: float
    direction: PatchDirection
    metric: str = "metric"
    tokens: list[str] = field(default_factory=list)
    """The clean prompt's tokens (first prompt), for labelling positions."""

    def _validate(self) -> None:
        if self.values.shape != (len(self.sites),):
            raise ValueError(
                f"{len(self.sites)} sites but values of shape {tuple(self.values.shape)}"
            )

    @property
    def normalised(self) -> Float[Tensor, " site"]:
        """0 = corrupted, 1 = clean."""
        return torch.tensor([normalise(float(v), self.clean, self.corrupted) for v in self.values])

    @property
    def by_position(self) -> bool:
        """Whether the sites are by position (else every position at once)."""
        return any(s.pos is not None for s in self.sites)

    @property
    def has_heads(self) -> bool:
        """Whether the sites are per head."""
        return any(s.head is not None for s in self.sites)

    def _layout(self, heads: bool, positions: bool, normalised: bool) -> Tensor:
        values = self.normalised if normalised else self.values
        n_layers = max(s.layer or 0 for s in self.sites) + 1
        shape = [n_layers]
        if heads:
            shape.append(max((s.head or 0) for s in self.sites) + 1)
        if positions:
            shape.append(max((s.pos or 0) for s in self.sites) + 1)
        out = torch.full(shape, torch.nan)
        for site, value in zip(self.sites, values.tolist(), strict=True):
            index = [site.layer or 0]
            if heads:
                index.append(site.head or 0)
            if positions:
                index.append(site.pos or 0)
            out[tuple(index)] = value
        return out

    def by_layer_pos(self, normalised: bool = True) -> Float[Tensor, "layer pos"]:
        """Values of by-position sites without heads, ``[layer, pos]`` (NaN: not patched).

        Raises:
            MechscopeError: the sites are per head or not by position.
        """
        if self.has_heads or not self.by_position:
            raise MechscopeError("by_layer_pos needs per-position sites without heads.")
        return self._layout(False, True, normalised)

    def by_layer_head(self, normalised: bool = True) -> Float[Tensor, "layer head"]:
        """Values of per-head sites, ``[layer, head]``; by-position sites are averaged.

        Raises:
            MechscopeError: the sites have no head axis.
        """
        if not self.has_heads:
            raise MechscopeError("by_layer_head needs per-head sites (z, q, k, v, pattern).")
        if self.by_position:
            return self._layout(True, True, normalised).nanmean(-1)
        return self._layout(True, False, normalised)

    def by_layer_head_pos(self, normalised: bool = True) -> Float[Tensor, "layer head pos"]:
        """Values of per-head, by-position sites, ``[layer, head, pos]``.

        Raises:
            MechscopeError: the sites are not per head and by position.
        """
        if not (self.has_heads and self.by_position):
            raise MechscopeError("by_layer_head_pos needs per-head sites by position.")
        return self._layout(True, True, normalised)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per site: component, layer, head, pos, value, normalised."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "component": s.component.name.lower(),
                    "layer": s.layer,
                    "head": s.head,
                    "pos": s.pos,
                    "value": float(v),
                    "normalised": float(n),
                }
                for s, v, n in zip(self.sites, self.values, self.normalised, strict=True)
            ]
        )


def tokenize_pairs(
    model: Model, clean: str | Sequence[str], corrupted: str | Sequence[str]
) -> tuple[TokenBatch, TokenBatch]:
    """Tokenise clean and corrupted prompts and check that each pair has equal length.

    Raises:
        PromptError: different counts, or a pair whose token lengths differ (both
            tokenisations are shown).
    """
    clean_list = [clean] if isinstance(clean, str) else list(clean)
    corrupted_list = [corrupted] if isinstance(corrupted, str) else list(corrupted)
    if len(clean_list) != len(corrupted_list):
        raise PromptError(
            f"{len(clean_list)} clean prompts but {len(corrupted_list)} corrupted ones; "
            "give one corrupted prompt per clean prompt."
        )
    clean_batch, corrupted_batch = tokenize(model, clean_list), tokenize(model, corrupted_list)
    check_same_lengths(model, clean_batch, corrupted_batch)
    return clean_batch, corrupted_batch


def check_sites(model: Model, sites: Sequence[Site], n_pos: int) -> None:
    """Raise `MechscopeError` for sites the engine cannot patch or that are out of range."""
    if not sites:
        raise MechscopeError("no sites given; build them with every_site(...) or Site(...).")
    for site in sites:
        if site.component not in PATCHABLE:
            names = ", ".join(c.name for c in PATCHABLE)
            raise MechscopeError(f"{site.component.name} cannot be patched; use one of {names}.")
        if site.layer is not None and not 0 <= site.layer < model.cfg.n_layers:
            raise MechscopeError(
                f"site {site}: layer {site.layer} is out of range 0..{model.cfg.n_layers - 1}."
            )
        # Keys and values have n_key_value_heads heads (fewer with grouped-query attention).
        shared = site.component in (Component.K, Component.V)
        n_heads = adapt(model).n_key_value_heads if shared else model.cfg.n_heads
        if site.head is not None and not 0 <= site.head < n_heads:
            kind = "key/value head" if shared and n_heads != model.cfg.n_heads else "head"
            raise MechscopeError(
                f"site {site}: {kind} {site.head} is out of range 0..{n_heads - 1}."
            )
        if site.pos is not None and site.pos >= n_pos:
            raise MechscopeError(
                f"site {site}: position {site.pos} is past the inputs' {n_pos} positions."
            )


def patching_hooks(model: Model, sites: Sequence[Site]) -> list[str]:
    """Every hook point `activation_patching` of ``sites`` reads from either run.

    Pass them to `PairedRuns.run` (or `TaskPairs.runs`) and each run is a single pass.
    """
    return sorted({s.hook_name for s in sites} | set(start_hooks(model, [[s] for s in sites])))


def source_and_target(runs: PairedRuns, direction: PatchDirection) -> tuple[RunCache, RunCache]:
    """(source, target): clean into corrupted for denoising, corrupted into clean for noising."""
    if direction is PatchDirection.DENOISING:
        return runs.clean, runs.corrupted
    return runs.corrupted, runs.clean


@torch.no_grad()
def activation_patching(
    runs: PairedRuns,
    sites: Sequence[Site],
    direction: PatchDirection | str = PatchDirection.DENOISING,
    *,
    max_rows: int = 64,
    progress: bool = True,
) -> PatchingResult:
    """Patch each site from the source run into the target run and measure the metric.

    Args:
        runs: the clean and corrupted runs and the metric (`PairedRuns.run`); the source
            activations and the baselines come from them.
        sites: what to patch, e.g. ``every_site(Component.RESID_PRE, n_layers, n_pos=...)``.
        direction: denoising (clean into corrupted) or noising (corrupted into clean).
        max_rows: rows per forward pass (sites per pass = max_rows // batch size).
        progress: show a progress bar over chunks.

    Raises:
        MechscopeError: bad sites, or a metric that is not a scalar.
    """
    direction = PatchDirection(direction)
    model = runs.model
    check_sites(model, sites, runs.clean.batch.attention_mask.shape[1])
    source, target = source_and_target(runs, direction)
    sources = source.get(s.hook_name for s in sites)
    groups = [[site] for site in sites]
    values = patch_groups(
        model, target, sources, runs.metric, groups, max_rows=max_rows, progress=progress
    )
    return PatchingResult(
        tuple(sites),
        values,
        runs.clean_value,
        runs.corrupted_value,
        direction,
        runs.metric.name,
        runs.clean_tokens(),
        provenance=Provenance(
            config={"direction": direction.value, "max_rows": max_rows}, model=model_spec(model)
        ),
    )


def result_summary(result: PatchingResult, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` sites by the size of their normalised effect (largest |effect| first).

    By size, not sign: a large negative effect matters as much as a positive one, and in
    noising the important sites are the ones that move the metric most either way.
    """
    order = result.normalised.abs().nan_to_num(float("-inf")).argsort(descending=True)[:top]
    return [
        {
            "site": str(result.sites[i]),
            "value": float(result.values[i]),
            "normalised": float(result.normalised[i]),
        }
        for i in order.tolist()
    ]
