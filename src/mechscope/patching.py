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

Batching: the target batch is repeated once per site in a chunk, and replica ``i`` gets only
site ``i`` patched (a masked ``torch.where`` in the hook of each hook point involved). So a
chunk of sites costs one forward pass of ``n_sites x batch`` rows instead of one pass per
site, with results equal to TransformerLens's ``patching.py`` (tested to 1e-5). The source
activations come from one ``run_with_cache`` limited (``names_filter``) to the hook points of
the sites.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import einops
import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache
from transformer_lens.cache.key_value_cache_entry import TransformerLensKeyValueCacheEntry
from transformer_lens.hook_points import HookPoint

from mechscope.errors import MechscopeError, PromptError
from mechscope.metrics import normalise, scalar
from mechscope.models.base import Model, is_encoder
from mechscope.results import load_result, save_result
from mechscope.sites import Component, Site
from mechscope.tokens import TokenBatch, forward_kwargs, str_tokens, tokenize

Metric = Callable[[Float[Tensor, "batch pos d_vocab"]], Tensor]
"""Logits of the whole batch -> a scalar tensor (closures carry answers and positions)."""

PATCHABLE = (
    Component.RESID_PRE, Component.RESID_MID, Component.RESID_POST, Component.ATTN_OUT,
    Component.MLP_OUT, Component.Q, Component.K, Component.V, Component.Z,
    Component.PATTERN, Component.ATTN_SCORES,
)  # fmt: skip


class PatchDirection(Enum):
    """Which run is patched with which."""

    DENOISING = "denoising"
    """Clean activations into the corrupted run."""
    NOISING = "noising"
    """Corrupted activations into the clean run."""


@dataclass(frozen=True)
class PatchingResult:
    """The metric with each site patched, and the unpatched clean and corrupted values."""

    sites: tuple[Site, ...]
    values: Float[Tensor, " site"]
    clean: float
    corrupted: float
    direction: PatchDirection
    metric: str = "metric"
    tokens: list[str] = field(default_factory=list)
    """The clean prompt's tokens (first prompt), for labelling positions."""

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.sites),):
            raise ValueError(
                f"{len(self.sites)} sites but values of shape {tuple(self.values.shape)}"
            )

    @property
    def normalised(self) -> Float[Tensor, " site"]:
        """0 = corrupted, 1 = clean."""
        return torch.tensor([normalise(float(v), self.clean, self.corrupted) for v in self.values])

    def grid(self, normalised: bool = True) -> Tensor:
        """Values laid out ``[layer, head or pos]`` or ``[layer, head, pos]``.

        Sites come from `every_site`; NaN where a combination was not patched.
        """
        values = self.normalised if normalised else self.values
        layers = max(s.layer or 0 for s in self.sites) + 1
        heads = [s.head for s in self.sites if s.head is not None]
        positions = [s.pos for s in self.sites if s.pos is not None]
        shape = [layers]
        if heads:
            shape.append(max(heads) + 1)
        if positions:
            shape.append(max(positions) + 1)
        out = torch.full(shape, torch.nan)
        for site, value in zip(self.sites, values.tolist(), strict=True):
            index = [site.layer or 0]
            if heads:
                index.append(site.head or 0)
            if positions:
                index.append(site.pos or 0)
            out[tuple(index)] = value
        return out

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

    def save(self, directory: str | Path) -> Path:
        """result.json (sites, baselines) + tensors.safetensors (values)."""
        meta = {
            "sites": [[s.component.name, s.layer, s.head, s.pos] for s in self.sites],
            "clean": self.clean,
            "corrupted": self.corrupted,
            "direction": self.direction.value,
            "metric": self.metric,
            "tokens": self.tokens,
        }
        return save_result(directory, {"values": self.values}, meta)

    @classmethod
    def load(cls, directory: str | Path) -> "PatchingResult":
        """Read back what `save` wrote."""
        tensors, meta = load_result(directory)
        sites = tuple(Site(Component[c], layer, head, pos) for c, layer, head, pos in meta["sites"])
        return cls(
            sites=sites,
            values=tensors["values"],
            clean=meta["clean"],
            corrupted=meta["corrupted"],
            direction=PatchDirection(meta["direction"]),
            metric=meta["metric"],
            tokens=meta["tokens"],
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


def check_same_lengths(model: Model, clean: TokenBatch, corrupted: TokenBatch) -> None:
    """Raise `PromptError` unless every clean/corrupted pair has the same token length."""
    if clean.tokens.shape[0] != corrupted.tokens.shape[0]:
        raise PromptError("clean and corrupted batches hold different numbers of prompts.")
    for i, (a, b) in enumerate(
        zip(clean.lengths.tolist(), corrupted.lengths.tolist(), strict=True)
    ):
        if a != b:
            shown = [str_tokens(model, batch.unpadded(i).tolist()) for batch in (clean, corrupted)]
            raise PromptError(
                f"pair {i}: the clean prompt has {a} tokens {shown[0]} but the corrupted one "
                f"has {b} {shown[1]}; positions must line up, so reword one of them."
            )
    if clean.tokens.shape != corrupted.tokens.shape:
        raise PromptError("clean and corrupted batches are padded to different widths.")


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
        if site.head is not None and not 0 <= site.head < model.cfg.n_heads:
            raise MechscopeError(
                f"site {site}: head {site.head} is out of range 0..{model.cfg.n_heads - 1}."
            )
        if site.pos is not None and site.pos >= n_pos:
            raise MechscopeError(
                f"site {site}: position {site.pos} is past the prompts' {n_pos} tokens."
            )


def site_mask(site: Site, shape: tuple[int, ...]) -> Tensor:
    """Where ``site`` covers an activation of per-prompt ``shape`` (no batch axis)."""
    mask = torch.zeros(shape, dtype=torch.bool)
    pos = slice(None) if site.pos is None else site.pos
    head = slice(None) if site.head is None else site.head
    if site.component in (Component.PATTERN, Component.ATTN_SCORES):  # [head, dest, src]
        mask[head, pos] = True
    elif site.component.has_head_axis:  # [pos, head, d_head]
        mask[pos, head] = True
    else:  # [pos, d_model]
        mask[pos] = True
    return mask


@dataclass(frozen=True)
class Start:
    """Where a chunk's forward pass begins: a block, and optionally a position.

    Blocks before ``layer`` and positions before ``pos`` are identical to the target run
    for every patch of the chunk (a decoder's position ``i`` never sees later ones), so the
    pass starts from the target's cached ``resid_pre`` at ``layer``, for positions ``pos...``
    only, with the earlier positions' keys and values (and logits) taken from the target run.
    """

    layer: int
    resid: Float[Tensor, "batch pos d_model"]
    pos: int = 0
    keys: tuple[Tensor, ...] = ()
    """``hook_k`` of every layer on the target run (needed when ``pos > 0``)."""
    values: tuple[Tensor, ...] = ()
    logits: Tensor | None = None
    """The target run's logits (positions before ``pos`` are reused)."""


def position_axis(component: Component) -> int:
    """The position axis of one prompt's activation (the destination for patterns)."""
    return 1 if component in (Component.PATTERN, Component.ATTN_SCORES) else 0


@torch.no_grad()
def run_patches(
    model: Model,
    target: TokenBatch,
    sources: dict[str, Tensor],
    metric: Metric,
    groups: Sequence[Sequence[Site]],
    start: Start | None = None,
) -> list[float]:
    """The metric of ``target`` with each group of sites patched from ``sources``, one pass.

    Replica ``i`` of the batch gets every site of ``groups[i]`` (and nothing else) replaced
    by ``sources[site.hook_name]`` (shaped like the target's activation, or broadcastable).
    ``start``: skip what no patch of the chunk can change (see `Start`).
    """
    n_rep, n_batch = len(groups), target.tokens.shape[0]
    skip = start.pos if start is not None else 0
    masks: dict[str, Tensor] = {}
    axes: dict[str, int] = {}
    for i, group in enumerate(groups):
        for site in group:
            shape = tuple(sources[site.hook_name].shape[1:])
            empty = torch.zeros((n_rep, *shape), dtype=torch.bool)
            masks.setdefault(site.hook_name, empty)[i] |= site_mask(site, shape)
            axes[site.hook_name] = position_axis(site.component)
    if skip:  # the pass covers positions skip... only
        masks = {
            n: m.narrow(axes[n] + 1, skip, m.shape[axes[n] + 1] - skip) for n, m in masks.items()
        }
        sources = {
            n: sources[n].narrow(axes[n] + 1, skip, sources[n].shape[axes[n] + 1] - skip)
            for n in masks
        }

    def make_hook(name: str):  # noqa: ANN202 - a TransformerLens hook closure
        where = masks[name].to(sources[name].device)[:, None]  # [replica, 1, ...]

        def hook(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
            by_replica = act.view(n_rep, n_batch, *act.shape[1:])
            patched = torch.where(where, sources[name][None].to(act), by_replica)
            return patched.view(act.shape)

        return hook

    kwargs = {
        k: einops.repeat(v, "b p -> (r b) p", r=n_rep) if isinstance(v, Tensor) else v
        for k, v in forward_kwargs(model, target).items()
    }
    hooks = [(name, make_hook(name)) for name in masks]
    with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
        if start is None:
            logits = model(einops.repeat(target.tokens, "b p -> (r b) p", r=n_rep), **kwargs)
        else:
            repeated = einops.repeat(start.resid[:, skip:], "b p d -> (r b) p d", r=n_rep)
            kwargs.pop("padding_side", None)
            if skip:
                kwargs["past_kv_cache"] = _prefix_cache(start, n_rep)
            logits = model(repeated, start_at_layer=start.layer, **kwargs)  # pyright: ignore[reportCallIssue]
            if skip:
                assert start.logits is not None
                prefix = einops.repeat(start.logits[:, :skip], "b p v -> (r b) p v", r=n_rep)
                logits = torch.cat([prefix, logits], dim=1)
    return [scalar(metric(logits[i * n_batch : (i + 1) * n_batch])) for i in range(n_rep)]


def _prefix_cache(start: Start, n_rep: int) -> TransformerLensKeyValueCache:
    """A frozen key/value cache holding the target's first ``start.pos`` positions."""
    entries = [
        TransformerLensKeyValueCacheEntry(
            past_keys=einops.repeat(k[:, : start.pos], "b p h d -> (r b) p h d", r=n_rep),
            past_values=einops.repeat(v[:, : start.pos], "b p h d -> (r b) p h d", r=n_rep),
            frozen=True,
        )
        for k, v in zip(start.keys, start.values, strict=True)
    ]
    n_rows = entries[0].past_keys.shape[0]
    mask = torch.ones((n_rows, start.pos), dtype=torch.int, device=start.resid.device)
    return TransformerLensKeyValueCache(entries=entries, previous_attention_mask=mask, frozen=True)


def _can_skip_blocks(model: Model) -> bool:
    """Whether a pass can start at a later block from a cached ``resid_pre`` (decoders)."""
    return (
        not is_encoder(model)
        and getattr(model.cfg, "positional_embedding_type", "") != "shortformer"
    )


def _can_skip_positions(model: Model, target: TokenBatch) -> bool:
    """Whether positions can be skipped too: unpadded, and the cached keys are ``hook_k``."""
    cfg = model.cfg
    return (
        _can_skip_blocks(model)
        and bool(target.attention_mask.all())
        and not getattr(cfg, "use_qk_norm", False)
        and getattr(cfg, "clip_qkv", None) is None
    )


def patch_groups(
    model: Model,
    target: TokenBatch,
    sources: dict[str, Tensor],
    metric: Metric,
    groups: Sequence[Sequence[Site]],
    *,
    max_rows: int,
    progress: bool = False,
    desc: str = "patching",
) -> Float[Tensor, " group"]:
    """`run_patches` over any number of groups: chunked, each chunk starting late.

    Groups are sorted by (first layer, first position) and chunked ``max_rows // batch`` at
    a time. A decoder's chunk starts at its first layer from the target's cached
    ``resid_pre``, and, for an unpadded batch, at its first patched position (see `Start`).
    """
    n_layers = model.cfg.n_layers
    first = [min(s.layer or 0 for s in group) for group in groups]
    first_pos = [min(s.pos if s.pos is not None else 0 for s in group) for group in groups]
    skip_positions = _can_skip_positions(model, target)
    per_chunk = max(1, max_rows // target.tokens.shape[0])
    order = sorted(range(len(groups)), key=lambda i: (first[i], first_pos[i]))
    chunks = [order[i : i + per_chunk] for i in range(0, len(order), per_chunk)]
    # Where each chunk starts: its first layer and (if allowed) its first position.
    starts = [
        (
            min(first[i] for i in indices) if _can_skip_blocks(model) else 0,
            min(first_pos[i] for i in indices) if skip_positions else 0,
        )
        for indices in chunks
    ]
    # One target run caches exactly what those starts read.
    layers = sorted({layer for layer, pos in starts if layer or pos})
    names = [Site(Component.RESID_PRE, layer).hook_name for layer in layers]
    if any(pos for _, pos in starts):
        names += [
            Site(component, layer).hook_name
            for component in (Component.K, Component.V)
            for layer in range(n_layers)
        ]
    logits, cache = None, None
    if names:
        logits, cache = model.run_with_cache(
            target.tokens, names_filter=names, **forward_kwargs(model, target)
        )
    values = torch.full((len(groups),), torch.nan)
    for indices, (layer, pos) in tqdm(
        zip(chunks, starts, strict=True), total=len(chunks), desc=desc, disable=not progress
    ):
        start = None
        if cache is not None and (layer or pos):
            start = Start(
                layer=layer,
                resid=cache[Site(Component.RESID_PRE, layer).hook_name],
                pos=pos,
                keys=tuple(cache[Site(Component.K, i).hook_name] for i in range(n_layers))
                if pos
                else (),
                values=tuple(cache[Site(Component.V, i).hook_name] for i in range(n_layers))
                if pos
                else (),
                logits=logits if pos else None,
            )
        chunk = [groups[i] for i in indices]
        values[indices] = torch.tensor(run_patches(model, target, sources, metric, chunk, start))
    return values


@torch.no_grad()
def activation_patching(
    model: Model,
    clean: TokenBatch,
    corrupted: TokenBatch,
    metric: Metric,
    sites: Sequence[Site],
    direction: PatchDirection | str = PatchDirection.DENOISING,
    *,
    max_rows: int = 64,
    metric_name: str = "metric",
    progress: bool = True,
) -> PatchingResult:
    """Patch each site from the source run into the target run and measure ``metric``.

    Args:
        model: a HookedTransformer.
        clean: prompts where the model shows the behaviour.
        corrupted: the same prompts with a key detail changed (same token lengths).
        metric: ``logits -> scalar`` on a batch shaped like ``clean``.
        sites: what to patch, e.g. ``every_site(Component.RESID_PRE, n_layers, n_pos=...)``.
        direction: denoising (clean into corrupted) or noising (corrupted into clean).
        max_rows: rows per forward pass (sites per pass = max_rows // batch size).
        metric_name: a label for reports.
        progress: show a progress bar over chunks.

    Raises:
        MechscopeError: lengths that differ, bad sites, or a metric that is not a scalar.
    """
    direction = PatchDirection(direction)
    check_same_lengths(model, clean, corrupted)
    check_sites(model, sites, clean.tokens.shape[1])
    source, target = (
        (clean, corrupted) if direction is PatchDirection.DENOISING else (corrupted, clean)
    )
    names = sorted({s.hook_name for s in sites})
    source_logits, cache = model.run_with_cache(
        source.tokens, names_filter=names, **forward_kwargs(model, source)
    )
    sources = {name: cache[name] for name in names}
    source_value = scalar(metric(source_logits))
    target_value = scalar(metric(model(target.tokens, **forward_kwargs(model, target))))
    clean_value, corrupted_value = (
        (source_value, target_value)
        if direction is PatchDirection.DENOISING
        else (target_value, source_value)
    )
    groups = [[site] for site in sites]
    values = patch_groups(
        model, target, sources, metric, groups, max_rows=max_rows, progress=progress
    )
    tokens = str_tokens(model, clean.unpadded(0).tolist())
    return PatchingResult(
        tuple(sites),
        values,
        clean_value,
        corrupted_value,
        direction,
        metric_name,
        tokens,
    )


def result_summary(result: PatchingResult, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` sites by normalised effect (largest first), as rows."""
    order = result.normalised.nan_to_num(float("-inf")).argsort(descending=True)[:top]
    return [
        {
            "site": str(result.sites[i]),
            "value": float(result.values[i]),
            "normalised": float(result.normalised[i]),
        }
        for i in order.tolist()
    ]
