"""Ablating attention heads: zero, mean and resample, as a context manager.

A head is ablated by replacing its ``hook_z`` (the attention-weighted values, before W_O),
which removes exactly that head's write into the residual stream; W_O's bias is shared by
the layer and stays.

- zero: z = 0 (the head writes nothing).
- mean: z = its mean over a reference batch, per position (default) or over all positions;
  padding in the reference is left out of the mean. Removes what depends on the input while
  keeping the head's average write (Wang et al. 2022 use it for IOI).
- resample: z = the head's z on another prompt of the reference batch (Chan et al. 2022's
  resampling ablation), prompts assigned by a seeded permutation.

Hooks live only inside ``with ablate(...)``: TransformerLens's ``model.hooks`` removes them
on every exit path, exceptions included.

`ablation_effects` (every head, or every layer, ablated on its own) runs on the patching
engine (`mechscope.interventions.engine.patch_groups`): an ablation is a patch of ``hook_z``
with zeros, the reference mean or a resampled prompt's value, one group of heads per batch
replica.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.hook_points import HookPoint

from mechscope.core.axes import HeadId
from mechscope.core.batch import ImageBatch, TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import LogitsFn, Metric, as_metric, scalar
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, Site
from mechscope.interventions.choices import AblationType
from mechscope.interventions.engine import patch_groups, per_prompt_values, start_hooks
from mechscope.interventions.runs import RunCache
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import as_batch, forward_kwargs


def check_heads(model: Model, heads: Iterable[Any]) -> list[HeadId]:
    """The heads as HeadIds, each checked against the model's shape ("1.4" strings parsed).

    Raises:
        MechscopeError: a single string instead of a list, no heads, a head that is not two
            integers, out of range, or given twice.
    """
    if isinstance(heads, str):
        raise MechscopeError(
            f"heads must be a list of heads, got the string {heads!r}; write [{heads!r}]."
        )
    checked: list[HeadId] = []
    for given in heads:
        if isinstance(given, str):
            try:
                given = HeadId.parse(given)
            except ValueError as error:
                raise MechscopeError(str(error)) from None
        parts = tuple(given) if isinstance(given, tuple | list) else ()
        if len(parts) != 2 or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in parts
        ):
            raise MechscopeError(
                f"head {given!r} is not (layer, head) as two integers; write HeadId(1, 4), "
                "(1, 4) or '1.4'."
            )
        layer, head = parts
        if not (0 <= layer < model.cfg.n_layers and 0 <= head < model.cfg.n_heads):
            raise MechscopeError(
                f"head {layer}.{head} is out of range: the model has layers "
                f"0..{model.cfg.n_layers - 1} and heads 0..{model.cfg.n_heads - 1} per layer."
            )
        if HeadId(layer, head) in checked:
            raise MechscopeError(f"head {layer}.{head} is given twice; list each head once.")
        checked.append(HeadId(layer, head))
    if not checked:
        raise MechscopeError("no heads given; name at least one, e.g. ['1.4'] or [(1, 4)].")
    return checked


@torch.no_grad()
def reference_z(
    model: Model, layers: set[int], reference: TokenBatch | ImageBatch
) -> dict[int, Float[Tensor, "batch pos head d_head"]]:
    """``hook_z`` of each layer in ``layers`` on the reference batch (padding zeroed)."""
    names = {layer: Site(Component.Z, layer).hook_name for layer in layers}
    _, cache = model.run_with_cache(
        reference.inputs,
        names_filter=list(names.values()),
        return_type=None,
        **forward_kwargs(model, reference),
    )
    mask = einops.rearrange(
        reference.attention_mask.to(cache[names[min(layers)]].dtype), "b p -> b p 1 1"
    )
    return {layer: cache[name] * mask for layer, name in names.items()}


def _replacement(
    how: AblationType,
    z_ref: Float[Tensor, "batch pos head d_head"],
    mask: Int[Tensor, "batch pos"],
    per_position: bool,
) -> Float[Tensor, "batch pos head d_head"] | Float[Tensor, "1 pos head d_head"]:
    """The tensor an ablated z is replaced with, before slicing to the run's positions."""
    if how is AblationType.MEAN:
        weight = mask.to(z_ref.dtype)
        if per_position:
            count = einops.rearrange(weight.sum(0).clamp(min=1), "p -> 1 p 1 1")
            return z_ref.sum(0, keepdim=True) / count
        mean = einops.reduce(z_ref, "b p h d -> h d", "sum") / weight.sum()
        return einops.repeat(mean, "h d -> 1 p h d", p=z_ref.shape[1])
    return z_ref


def check_resample_reference(n_source: int) -> None:
    """Raise `MechscopeError` for fewer than two reference prompts to resample from.

    One prompt can only give a prompt back its own activations, which ablates nothing.
    """
    if n_source < 2:
        raise MechscopeError(
            f"resample ablation needs at least 2 reference prompts (got {n_source}): a prompt "
            "must take another prompt's activations; give more prompts or use mean ablation."
        )


def resample_sources(n_batch: int, n_source: int, seed: int) -> Int[Tensor, " batch"]:
    """Which reference prompt each prompt takes its activations from: never its own.

    Prompt ``i`` is paired with reference prompt ``i`` (the reference is usually the batch
    itself). With as many prompts as references the draw is a seeded derangement (a
    permutation without a fixed point, drawn uniformly by rejection); otherwise each prompt
    draws uniformly from the references other than its own.

    Raises:
        MechscopeError: fewer than two reference prompts (`check_resample_reference`).
    """
    check_resample_reference(n_source)
    generator = torch.Generator().manual_seed(seed)
    own = torch.arange(n_batch)
    if n_batch == n_source:
        while True:
            order = torch.randperm(n_source, generator=generator)
            if not bool((order == own).any()):
                return order
    draw = torch.randint(0, n_source - 1, (n_batch,), generator=generator)
    return torch.where((own < n_source) & (draw >= own), draw + 1, draw)


@contextmanager
def ablate(
    model: Model,
    heads: Iterable[HeadId | tuple[int, int] | str],
    how: AblationType | str = AblationType.ZERO,
    reference: Int[Tensor, "batch pos"] | TokenBatch | ImageBatch | None = None,
    *,
    per_position: bool = True,
    seed: int = 0,
) -> Iterator[Model]:
    """Within the block, ``model`` runs with ``heads`` ablated; yields the model.

    Args:
        model: the model to ablate (its weights are not touched).
        heads: (layer, head) pairs or HeadIds.
        how: zero, mean or resample (an AblationType or its value, e.g. ``"mean"``).
        reference: prompts for mean and resample ablation (token ids or a TokenBatch), or
            images (an ImageBatch) for a ViT.
        per_position: mean ablation averages each position separately (else all positions).
        seed: which reference prompt each run prompt takes its z from (resample: never its
            own, `resample_sources`).

    Raises:
        MechscopeError: unknown ``how``, heads out of range, a missing or empty reference,
            or fewer than 2 reference prompts for resample.
    """
    how = _parse_how(how)
    chosen = check_heads(model, heads)
    by_layer: dict[int, list[int]] = {}
    for head in chosen:
        by_layer.setdefault(head.layer, []).append(head.head)
    replacements: dict[int, Tensor] = {}
    if how is not AblationType.ZERO and by_layer:
        tokens = reference.inputs if isinstance(reference, TokenBatch | ImageBatch) else reference
        if reference is None or tokens is None or tokens.numel() == 0:
            raise MechscopeError(
                f"{how.value} ablation needs a non-empty reference batch of prompts "
                "(reference=token ids or a TokenBatch)."
            )
        batch = as_batch(model, reference)
        if how is AblationType.RESAMPLE:
            check_resample_reference(batch.inputs.shape[0])  # at entry, not at the first pass
        z_refs = reference_z(model, set(by_layer), batch)
        replacements = {
            layer: _replacement(how, z, batch.attention_mask, per_position)
            for layer, z in z_refs.items()
        }
    assignments: dict[tuple[int, int], Tensor] = {}

    def resampled_rows(n_batch: int, n_source: int) -> Tensor:
        """Which reference prompt each run prompt takes its z from.

        Drawn once per batch shape from ``seed``: every layer and every pass inside the
        block agree.
        """
        if (n_batch, n_source) not in assignments:
            assignments[n_batch, n_source] = resample_sources(n_batch, n_source, seed)
        return assignments[n_batch, n_source]

    def make_hook(layer: int):  # noqa: ANN202 - a TransformerLens hook closure
        head_index = torch.tensor(by_layer[layer])

        def hook(z: Float[Tensor, "batch pos head d_head"], hook: HookPoint) -> Tensor:  # noqa: ARG001
            z = z.clone()
            if how is AblationType.ZERO:
                z[:, :, head_index] = 0.0
                return z
            source = replacements[layer]
            n_batch, n_pos = z.shape[:2]
            if source.shape[1] < n_pos:
                raise MechscopeError(
                    f"the reference has {source.shape[1]} positions but the run has {n_pos}; "
                    "give reference prompts at least as long (or per_position=False)."
                )
            if how is AblationType.RESAMPLE:
                source = source[resampled_rows(n_batch, source.shape[0])]
            fill = source[:, :n_pos][:, :, head_index].to(z.device, z.dtype)
            z[:, :, head_index] = fill.expand(n_batch, -1, -1, -1)
            return z

        return hook

    fwd_hooks = [(Site(Component.Z, layer).hook_name, make_hook(layer)) for layer in by_layer]
    with model.hooks(fwd_hooks=fwd_hooks):  # pyright: ignore[reportArgumentType]
        yield model


@dataclass(frozen=True)
class AblationEffects(Result):
    """A metric with nothing ablated and with each group of heads ablated on its own.

    A group is one head (``heads="all"`` or a list of heads), one whole layer
    (``heads="layers"``), or any set of heads (a list of lists).
    """

    kind: ClassVar[str] = "ablation-effects"
    groups: tuple[tuple[HeadId, ...], ...]
    clean: float
    ablated: Float[Tensor, " group"]
    how: AblationType
    metric: str = "metric"
    clean_rows: Float[Tensor, " batch"] | None = None
    """The metric per prompt with nothing ablated (``per_prompt=True``; else None)."""
    ablated_rows: Float[Tensor, "group batch"] | None = None
    """The metric per prompt with each group ablated (``per_prompt=True``; else None)."""

    def _summary(self) -> dict[str, Any]:
        return {"rows": self.to_rows()}

    def _validate(self) -> None:
        if self.ablated.shape != (len(self.groups),):
            raise ValueError(f"{len(self.groups)} groups but {tuple(self.ablated.shape)} values")
        if (self.clean_rows is None) != (self.ablated_rows is None):
            raise ValueError("clean_rows and ablated_rows come together (per_prompt=True)")

    @property
    def change_stderr(self) -> Float[Tensor, " group"]:
        """The standard error of each group's change over prompts.

        The per-prompt changes' standard deviation over the square root of their number;
        NaN without ``per_prompt`` or with one prompt.
        """
        if self.clean_rows is None or self.ablated_rows is None or self.clean_rows.numel() < 2:
            return torch.full((len(self.groups),), torch.nan)
        changes = self.ablated_rows - self.clean_rows
        return changes.std(dim=-1) / changes.shape[-1] ** 0.5

    @property
    def heads(self) -> tuple[HeadId, ...]:
        """The head of each single-head group (in order)."""
        return tuple(g[0] for g in self.groups if len(g) == 1)

    @property
    def labels(self) -> list[str]:
        """``"1.4"`` for a head, ``"L1"`` for a whole layer, else the heads joined."""
        labels = []
        for group in self.groups:
            layers = {h.layer for h in group}
            if len(group) == 1:
                labels.append(str(group[0]))
            elif len(layers) == 1 and len(group) > 1 and self._whole_layer(group):
                labels.append(f"L{group[0].layer}")
            else:
                labels.append(",".join(str(h) for h in group))
        return labels

    @staticmethod
    def _whole_layer(group: tuple[HeadId, ...]) -> bool:
        return sorted(h.head for h in group) == list(range(len(group)))

    @property
    def change(self) -> Float[Tensor, " group"]:
        """Ablated minus clean, per group."""
        return self.ablated - self.clean

    def as_grid(self, n_layers: int, n_heads: int) -> Float[Tensor, "layer head"]:
        """Single-head changes laid out as (layer, head); NaN for heads not ablated alone."""
        grid = torch.full((n_layers, n_heads), torch.nan)
        for group, value in zip(self.groups, self.change.tolist(), strict=True):
            if len(group) == 1:
                grid[group[0].layer, group[0].head] = value
        return grid

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-able row per group."""
        return [
            {"head": label, "ablated": float(a), "change": float(a - self.clean),
             "change_stderr": float(se)}
            for label, a, se in zip(self.labels, self.ablated.tolist(),
                                    self.change_stderr.tolist(), strict=True)
        ]  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per group: label, ablated value, change from clean."""
        import pandas as pd

        return pd.DataFrame(self.to_rows())


HeadGroups = Sequence[HeadId | tuple[int, int] | Sequence[HeadId | tuple[int, int]]]
"""Heads ablated one at a time, or groups of heads (a group is a list of heads)."""


def _groups(model: Model, heads: HeadGroups | str) -> list[tuple[HeadId, ...]]:
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    if heads == "all":
        return [(HeadId(i, h),) for i in range(n_layers) for h in range(n_heads)]
    if heads == "layers":
        return [tuple(HeadId(i, h) for h in range(n_heads)) for i in range(n_layers)]
    if isinstance(heads, str):
        raise MechscopeError(f"heads must be 'all', 'layers' or (layer, head) pairs, got {heads!r}")
    groups = []
    for item in heads:
        is_head = len(item) == 2 and all(isinstance(i, int) for i in item)
        members = [item] if is_head else list(item)
        groups.append(tuple(check_heads(model, members)))  # pyright: ignore[reportArgumentType]
    return groups


@torch.no_grad()
def ablation_effects(
    model: Model,
    batch: TokenBatch | ImageBatch,
    metric: Metric | LogitsFn,
    heads: HeadGroups | str = "all",
    how: AblationType | str = AblationType.ZERO,
    reference: TokenBatch | ImageBatch | None = None,
    *,
    per_position: bool = True,
    max_rows: int = 256,
    seed: int = 0,
    per_prompt: bool = False,
) -> AblationEffects:
    """``metric`` with each head (or each layer, or group) ablated alone, many per pass.

    The batch is repeated once per group in a chunk; replica ``i`` has only group ``i``
    ablated (its rows of ``hook_z`` replaced), so each chunk is one forward pass of up to
    ``max_rows`` rows instead of one pass per group. Mean and resample take ``reference``
    (the batch itself when omitted).

    Args:
        model: the model (its weights are not touched).
        batch: the prompts (or images) the metric is measured on.
        metric: logits of ``batch`` -> scalar (e.g. `mechscope.core.metrics.next_token_loss`).
        heads: ``"all"`` (every head alone), ``"layers"`` (every layer's heads together),
            (layer, head) pairs (each alone), or lists of them (each list together).
        how: zero, mean or resample.
        reference: prompts for mean and resample (default: ``batch``).
        per_position: mean ablation averages each position separately (else all positions).
        max_rows: rows per forward pass.
        seed: which reference prompt each prompt takes its z from (resample).
        per_prompt: ``metric`` returns one value per prompt; the result keeps them
            (``clean_rows``, ``ablated_rows``, ``change_stderr``) and their means.

    Raises:
        MechscopeError: heads out of range, an unknown ``how``, an empty reference, or a
            metric of the wrong shape (a scalar, or one value per prompt with ``per_prompt``).
    """
    how = _parse_how(how)
    metric = as_metric(metric)
    groups = _groups(model, heads)
    sites = [[Site(Component.Z, h.layer, h.head) for h in group] for group in groups]
    target = RunCache.run(model, batch, names=start_hooks(model, sites))  # one pass
    clean_rows = None
    if per_prompt:
        clean_rows = per_prompt_values(metric(target.logits), batch.inputs.shape[0])
        clean = float(clean_rows.mean())
    else:
        clean = scalar(metric(target.logits))
    n_batch, n_pos = batch.attention_mask.shape
    layers = sorted({h.layer for g in groups for h in g})
    if how is AblationType.ZERO:
        shape = (1, n_pos, model.cfg.n_heads, model.cfg.d_head)
        fills = {layer: torch.zeros(shape, device=batch.inputs.device) for layer in layers}
    else:
        source = reference if reference is not None else batch
        if source.inputs.numel() == 0:
            raise MechscopeError(f"{how.value} ablation needs a non-empty reference batch.")
        fills = {}
        for layer, z in reference_z(model, set(layers), source).items():
            fill = _replacement(how, z, source.attention_mask, per_position)
            if fill.shape[1] < n_pos:
                raise MechscopeError(
                    "the reference prompts are shorter than the batch; give longer ones."
                )
            if how is AblationType.RESAMPLE:
                fill = fill[resample_sources(n_batch, fill.shape[0], seed)]
            fills[layer] = fill[:, :n_pos]
    # The patching engine does the rest: group i is ablated in replica i of the batch.
    sources = {Site(Component.Z, layer).hook_name: fill for layer, fill in fills.items()}
    values = patch_groups(
        model, target, sources, metric, sites, max_rows=max_rows, per_prompt=per_prompt
    )
    config = {"how": how.value, "per_position": per_position, "max_rows": max_rows, "seed": seed}
    return AblationEffects(
        tuple(groups),
        clean,
        values.mean(-1) if per_prompt else values,
        how,
        metric.name,
        clean_rows=clean_rows,
        ablated_rows=values if per_prompt else None,
        provenance=Provenance(config=config, model=model_spec(model)),
    )


def _parse_how(how: AblationType | str) -> AblationType:
    try:
        return AblationType(how)
    except ValueError:
        choices = ", ".join(t.value for t in AblationType)
        raise MechscopeError(f"unknown ablation {how!r}; choose one of {choices}.") from None
