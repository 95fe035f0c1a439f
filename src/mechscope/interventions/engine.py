"""The patching engine: many groups of patched sites in one forward pass, starting late.

Each replica ``i`` of the target batch gets only group ``i`` of sites patched (a masked
``torch.where`` in the hook of each hook point involved), so a chunk of groups costs one
forward pass of ``n_groups x batch`` rows instead of one pass per group. A chunk starts at
its first layer from the target's cached ``resid_pre`` and, for unpadded decoder batches, at
its first patched position with the earlier keys and values in a frozen KV cache (`Start`);
a chunk whose first layer patches only head outputs (``hook_z``) starts after that layer's
attention, its patches added to the cached ``resid_mid`` as ``(z' - z) W_O``: nothing a patch
of the chunk can change is skipped. When the metric reads one position per
prompt (`Metric.positions`, as every task metric does) a decoder's pass stops at the final
residual and only those rows are normalised and unembedded (``x @ W_U + b_U``): on a
GPT-2-sized vocabulary the unembedding of every position was about half of the work.
Activation patching, ablation effects and the last step of path patching all run here, on
token batches and image batches alike (a ViT starts late at a block, never at a position: it
is not causal).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.cache.key_value_cache import TransformerLensKeyValueCache
from transformer_lens.cache.key_value_cache_entry import TransformerLensKeyValueCacheEntry
from transformer_lens.hook_points import HookPoint

from mechscope.core.axes import Residual
from mechscope.core.batch import ImageBatch, TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import LogitsFn, Metric, scalar
from mechscope.core.sites import Component, Site, hook_name
from mechscope.interventions.runs import RunCache
from mechscope.models.adapter import adapt
from mechscope.models.base import Model
from mechscope.models.run import readout, readout_columns

if TYPE_CHECKING:
    from mechscope.models.legacy import TransformerBlock


def site_mask(site: Site, shape: tuple[int, ...]) -> Tensor:
    """Where ``site`` covers an activation of per-prompt ``shape`` (no batch axis).

    Trailing axes the site does not select (``d_head``, ``d_model``) may be left off.
    """
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
    resid: Residual
    pos: int = 0
    keys: tuple[Tensor, ...] = ()
    """``hook_k`` of every layer on the target run (needed when ``pos > 0``)."""
    values: tuple[Tensor, ...] = ()
    logits: Tensor | None = None
    """The target run's logits (positions before ``pos`` are reused)."""
    z: Tensor | None = None
    """Set when the pass starts after block ``layer``'s attention (every site of the chunk
    there is a head output): the target's ``hook_z`` there; ``resid`` is then the block's
    ``hook_resid_mid`` (its ``hook_resid_post`` when no MLP follows the attention: an
    attention-only or a parallel block), and ``pos`` is 0."""


def position_axis(component: Component) -> int:
    """The position axis of one prompt's activation (the destination for patterns)."""
    return 1 if component in (Component.PATTERN, Component.ATTN_SCORES) else 0


@torch.no_grad()
def run_patches(
    model: Model,
    target: TokenBatch | ImageBatch,
    sources: dict[str, Tensor],
    metric: LogitsFn,
    groups: Sequence[Sequence[Site]],
    start: Start | None = None,
    *,
    per_prompt: bool = False,
) -> Tensor:
    """The metric of ``target`` with each group of sites patched from ``sources``, one pass.

    Replica ``i`` of the batch gets every site of ``groups[i]`` (and nothing else) replaced
    by ``sources[site.hook_name]`` (shaped like the target's activation, or broadcastable).
    ``start``: skip what no patch of the chunk can change (see `Start`). The values are
    ``[group]``; ``per_prompt``: the metric returns one value per prompt (or image) and the
    values are ``[group, batch]``.
    """
    n_rep, n_batch = len(groups), target.inputs.shape[0]
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

    delta = None
    if start is not None and start.z is not None:  # the first layer's head patches, added
        name = Site(Component.Z, start.layer).hook_name
        delta = _head_delta(model, start, masks.pop(name), sources[name])

    def make_hook(name: str):  # noqa: ANN202 - a TransformerLens hook closure
        where = masks[name].to(sources[name].device)[:, None]  # [replica, 1, ...]

        def hook(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
            by_replica = act.view(n_rep, n_batch, *act.shape[1:])
            patched = torch.where(where, sources[name][None].to(act), by_replica)
            return patched.view(act.shape)

        return hook

    kwargs = {
        k: einops.repeat(v, "b p -> (r b) p", r=n_rep) if isinstance(v, Tensor) else v
        for k, v in adapt(model).forward_kwargs(target).items()
    }
    rows_only = reads_rows(model, metric)
    hooks = [(name, make_hook(name)) for name in masks]
    narrowed = False
    if rows_only:  # the final residual; only the metric's rows are unembedded below
        kwargs["stop_at_layer"] = model.cfg.n_layers
        assert isinstance(metric, Metric) and metric.positions is not None
        if (name := _narrowable(model, masks)) is not None:
            hooks.append((name, _keep_rows(metric.positions, n_rep, skip)))
            narrowed = True
    with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
        if start is None:
            out = model(einops.repeat(target.inputs, "b ... -> (r b) ...", r=n_rep), **kwargs)
        else:
            repeated = einops.repeat(start.resid[:, skip:], "b p d -> (r b) p d", r=n_rep)
            kwargs.pop("padding_side", None)
            if skip:
                kwargs["past_kv_cache"] = _prefix_cache(start, n_rep)
            layer = start.layer
            if delta is not None:  # the rest of block `layer`, then the blocks after it
                repeated, layer = _finish_block(model, layer, repeated + delta), layer + 1
            out = model(repeated, start_at_layer=layer, **kwargs)  # pyright: ignore[reportCallIssue]
    if rows_only:
        assert isinstance(metric, Metric) and metric.read is not None
        assert metric.positions is not None
        columns = metric.columns
        rows = metric_rows(model, out, metric.positions, n_rep, skip, start, narrowed, columns)
        read = metric.row_reader
        assert read is not None
        values = [read(rows[i * n_batch : (i + 1) * n_batch]) for i in range(n_rep)]
    else:
        if skip:
            assert start is not None and start.logits is not None
            prefix = einops.repeat(start.logits[:, :skip], "b p v -> (r b) p v", r=n_rep)
            out = torch.cat([prefix, out], dim=1)
        values = [metric(out[i * n_batch : (i + 1) * n_batch]) for i in range(n_rep)]
    if per_prompt:
        return torch.stack([per_prompt_values(v, n_batch) for v in values]).cpu()
    return torch.tensor([scalar(v) for v in values])


def _head_delta(
    model: Model, start: Start, where: Tensor, source: Tensor
) -> Float[Tensor, "rows pos d_model"]:
    """What each replica's head patches at ``start.layer`` add to the block's attention output.

    The output is ``sum_h z_h W_O[h] + b_O``, so replacing ``z`` by ``source`` where ``where``
    says (``[replica, pos, head, d_head]``) adds ``sum_h (source - z)_h W_O[h]`` there.
    """
    z = start.z
    assert z is not None
    w_o = model.blocks[start.layer].attn.W_O  # [head, d_head, d_model]  # pyright: ignore[reportIndexIssue]
    diff = torch.where(where.to(z.device)[:, None], (source.to(z) - z)[None], 0)
    delta = diff.flatten(-2) @ w_o.flatten(0, 1)  # [replica, batch, pos, d_model]
    return delta.flatten(0, 1)


def _finish_block(model: Model, layer: int, resid: Tensor) -> Tensor:
    """Block ``layer`` from after its attention (``resid``, see `Start.z`) to ``resid_post``.

    TransformerLens's `TransformerBlock.forward` after its ``hook_attn_out``, its hook points
    called as there (a narrowing ``hook_resid_mid``, `_keep_rows`, applies as in a full pass).
    """
    block = cast("TransformerBlock", model.blocks[layer])  # pyright: ignore[reportIndexIssue]
    cfg = model.cfg
    if cfg.attn_only or cfg.parallel_attn_mlp:  # the MLP (if any) read resid_pre: unchanged
        return block.hook_resid_post(resid)
    resid_mid = block.hook_resid_mid(resid)
    mlp_in = block.hook_mlp_in(resid_mid.clone()) if cfg.use_hook_mlp_in else resid_mid
    return block.hook_resid_post(resid_mid + block.apply_mlp(block.ln2(mlp_in)))


def _after_attention_names(model: Model, layer: int) -> list[str]:
    """What a pass starting after block ``layer``'s attention reads from the target run."""
    cfg = model.cfg
    after = Component.RESID_POST if cfg.attn_only or cfg.parallel_attn_mlp else Component.RESID_MID
    return [Site(Component.Z, layer).hook_name, Site(after, layer).hook_name]


def _only_heads_at(groups: Iterable[Sequence[Site]], layer: int) -> bool:
    """Whether every site of ``groups`` at ``layer`` is a head output (``hook_z``), and one is."""
    at_layer = [s.component for group in groups for s in group if (s.layer or 0) == layer]
    return bool(at_layer) and all(c is Component.Z for c in at_layer)


def _attention_skippable(model: Model, layer: int) -> bool:
    """Whether a pass may skip block ``layer``'s attention.

    The model allows it (`ModelAdapter.can_start_after_attention`) and nothing else hooks the
    block (it would not run).
    """
    if not adapt(model).can_start_after_attention:
        return False
    return not _hooked(model, (f"blocks.{layer}.",))


def _hooked(model: Model, prefixes: tuple[str, ...]) -> bool:
    """Whether any hook point whose name starts with one of ``prefixes`` has a forward hook."""
    return any(n.startswith(prefixes) and hp.fwd_hooks for n, hp in model.hook_dict.items())


def per_prompt_values(value: Tensor, n_batch: int) -> Tensor:
    """A per-prompt metric's value, checked: one float per prompt.

    Raises:
        MechscopeError: anything but ``n_batch`` values.
    """
    if not isinstance(value, Tensor) or value.shape != (n_batch,):
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise MechscopeError(
            f"a per-prompt metric must return one value per prompt ({n_batch}), got {shape}."
        )
    return value.detach().float()


def _narrowable(model: Model, patched: Iterable[str]) -> str | None:
    """The last block's ``hook_resid_mid``, if its MLP can run on the metric's rows alone.

    Only the metric's positions of the final residual are read, so after the last block's
    attention (which needs every position's keys and values) nothing else is needed. Not when
    the block has no separate MLP step, or when a patch or any other hook sits on the MLP
    side of the last block (it would see a narrowed tensor).
    """
    cfg = model.cfg
    last = cfg.n_layers - 1
    name = hook_name(Component.RESID_MID, last)
    if cfg.attn_only or cfg.parallel_attn_mlp or name not in model.hook_dict:
        return None
    parts = (Component.RESID_MID, Component.MLP_IN, Component.MLP_OUT, Component.RESID_POST)
    # every hook of the MLP side: those four, and any inside the MLP or its norm
    inside = (f"blocks.{last}.mlp.", f"blocks.{last}.ln2.")  # module prefixes, not hook names
    mlp_side = (*(hook_name(p, last) for p in parts), *inside)
    if any(p.startswith(mlp_side) for p in patched):
        return None
    return None if _hooked(model, mlp_side) else name


def _keep_rows(positions: Tensor, n_rep: int, skip: int):  # noqa: ANN202 - a hook
    """A ``hook_resid_mid`` hook keeping only each row's metric position (``[rows, 1, d]``)."""

    def hook(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001
        at = einops.repeat(positions.to(act.device), "b -> (r b)", r=n_rep) - skip
        return act[torch.arange(act.shape[0], device=act.device), at.clamp(min=0)][:, None]

    return hook


def reads_rows(model: Model, metric: LogitsFn) -> bool:
    """Whether a pass can stop at the final residual and unembed only ``metric``'s rows."""
    if not (isinstance(metric, Metric) and metric.read is not None):
        return False
    adapter = adapt(model)
    return adapter.causal and adapter.has_unembedding and adapter.can_start_at_layer


def metric_rows(
    model: Model,
    resid: Float[Tensor, "rows pos d_model"],
    positions: Tensor,
    n_rep: int = 1,
    skip: int = 0,
    start: Start | None = None,
    narrowed: bool = False,
    columns: Int[Tensor, "batch k"] | None = None,
) -> Float[Tensor, "rows d_vocab"] | Float[Tensor, "rows k"]:
    """The logits at each prompt's metric position, for every replica.

    ``resid`` covers positions ``skip...`` (``narrowed``: only each row's metric position,
    see `_keep_rows`); a metric position before ``skip`` is untouched by every patch of the
    chunk, so its logits are the target run's. ``columns`` (`Metric.columns`): only those
    vocabulary entries of each prompt's row (`readout_columns`).
    """
    positions = einops.repeat(positions.to(resid.device), "b -> (r b)", r=n_rep)
    rows = torch.arange(resid.shape[0], device=resid.device)
    at = torch.zeros_like(positions) if narrowed else (positions - skip).clamp(min=0)
    if columns is None:
        computed = readout(model, resid[rows, at])  # pyright: ignore[reportArgumentType]
    else:
        repeated = einops.repeat(columns, "b k -> (r b) k", r=n_rep)
        computed = readout_columns(model, resid[rows, at], repeated)
    if skip and bool((positions < skip).any()):
        assert start is not None and start.logits is not None
        n_batch = start.logits.shape[0]
        own = start.logits[torch.arange(n_batch, device=resid.device), positions[:n_batch]]
        if columns is not None:
            own = own.gather(1, columns.to(own.device))
        earlier = einops.repeat(own, "b v -> (r b) v", r=n_rep)  # (rows picked, then repeated)
        computed = torch.where((positions < skip)[:, None], earlier.to(computed), computed)
    return computed


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


def start_hooks(model: Model, groups: Sequence[Sequence[Site]]) -> list[str]:
    """Every hook point `patch_groups` may read from the target run to start chunks late.

    Name these (with the sites' own) when building `PairedRuns`, and each run is one pass.
    """
    n_layers = model.cfg.n_layers
    by_position = any(s.pos for group in groups for s in group)
    skippable = [_attention_skippable(model, layer) for layer in range(n_layers)]
    early, late = set(), set()  # the groups' first layers, by how a chunk there starts
    for group in groups:
        layer = min(s.layer or 0 for s in group)
        after = skippable[layer] and _only_heads_at([group], layer)
        (late if after else early).add(layer)
    names = _start_names(range(n_layers) if by_position else sorted(early), by_position, n_layers)
    return names + [n for layer in sorted(late) for n in _after_attention_names(model, layer)]


def _start_names(layers: Iterable[int], by_position: bool, n_layers: int) -> list[str]:
    """``resid_pre`` of ``layers``, and (``by_position``) every layer's keys and values."""
    names = [Site(Component.RESID_PRE, layer).hook_name for layer in layers]
    if by_position:
        names += [
            Site(component, layer).hook_name
            for component in (Component.K, Component.V)
            for layer in range(n_layers)
        ]
    return names


def patch_groups(
    model: Model,
    target: RunCache,
    sources: dict[str, Tensor],
    metric: LogitsFn,
    groups: Sequence[Sequence[Site]],
    *,
    max_rows: int,
    progress: bool = False,
    desc: str = "patching",
    per_prompt: bool = False,
) -> Float[Tensor, " group"] | Float[Tensor, "group batch"]:
    """`run_patches` over any number of groups: chunked, each chunk starting late.

    Groups are sorted by (first layer, first position) and cut into chunks of at most
    ``max_rows // batch`` groups where the work is least (`plan_chunks`). A chunk starts
    at its first layer from the target's cached ``resid_pre`` (where the model can: decoders
    and ViTs), and, for an unpadded decoder batch, at its first patched position (see
    `Start`); ``target`` supplies those activations (cached once) and its logits. A group
    whose every site already holds its source's values in the target run (`unchanged`: a
    position before the runs differ, a BOS) changes nothing: its value is the target's own,
    with no pass run. ``per_prompt``: see `run_patches`.
    """
    if max_rows < 1:
        raise MechscopeError(f"max_rows (rows per forward pass) must be 1 or more; got {max_rows}.")
    adapter = adapt(model)
    n_layers = model.cfg.n_layers
    first = [min(s.layer or 0 for s in group) for group in groups]
    first_pos = [min(s.pos if s.pos is not None else 0 for s in group) for group in groups]
    skip_positions = adapter.can_skip_positions(target.batch)
    n_batch = target.batch.inputs.shape[0]
    per_chunk = max(1, max_rows // n_batch)
    values = torch.full((len(groups), n_batch) if per_prompt else (len(groups),), torch.nan)
    same = unchanged(target, sources, groups)
    if any(same):  # the target's own value, without a pass
        own = metric(target.logits)
        values[torch.tensor(same)] = per_prompt_values(own, n_batch) if per_prompt else scalar(own)
    kept = [i for i in range(len(groups)) if not same[i]]
    order = sorted(kept, key=lambda i: (first[i], first_pos[i]))
    chunks = plan_chunks(
        order,
        first if adapter.can_start_at_layer else [0] * len(groups),
        per_chunk,
        n_layers,
        pass_cost(model, n_batch),
    )
    # Where each chunk starts: its first layer and (if allowed) its first position.
    starts = [
        (
            min(first[i] for i in indices) if adapter.can_start_at_layer else 0,
            min(first_pos[i] for i in indices) if skip_positions else 0,
        )
        for indices in chunks
    ]
    # A chunk whose first layer patches only head outputs starts after that layer's attention.
    skippable = {layer: _attention_skippable(model, layer) for layer, _ in starts}
    late = [
        pos == 0 and skippable[layer] and _only_heads_at((groups[i] for i in indices), layer)
        for indices, (layer, pos) in zip(chunks, starts, strict=True)
    ]
    # The target run's cache holds what those starts read (cached once, on first use).
    early = [start for start, after in zip(starts, late, strict=True) if not after]
    layers = sorted({layer for layer, pos in early if layer or pos})
    names = _start_names(layers, any(pos for _, pos in starts), n_layers)
    names += [n for (layer, _), after in zip(starts, late, strict=True) if after
              for n in _after_attention_names(model, layer)]  # fmt: skip
    cache = target.get(names) if names else None
    for indices, (layer, pos), after in tqdm(
        zip(chunks, starts, late, strict=True), total=len(chunks), desc=desc, disable=not progress
    ):
        start = None
        if after:
            assert cache is not None
            z, resid = (cache[n] for n in _after_attention_names(model, layer))
            start = Start(layer=layer, resid=resid, z=z)
        elif cache is not None and (layer or pos):
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
                logits=target.logits if pos else None,
            )
        chunk = [groups[i] for i in indices]
        values[indices] = run_patches(
            model, target.batch, sources, metric, chunk, start, per_prompt=per_prompt
        )
    return values


def unchanged(
    target: RunCache, sources: dict[str, Tensor], groups: Sequence[Sequence[Site]]
) -> list[bool]:
    """Whether patching each group would change nothing.

    Every site's source values equal the target run's own there, in every prompt (compared
    exactly, where the target run has cached that hook point; one it has not counts as
    changed).
    """
    differs: dict[str, Tensor] = {}  # per hook point: where any prompt's values differ
    for name in {site.hook_name for group in groups for site in group}:
        own = target.activations.get(name)
        if own is None or name not in sources:
            continue
        source = sources[name].to(own.device)
        if source.ndim == own.ndim and source.shape[1:] == own.shape[1:]:
            # reduced to what a site can select: [pos(, head)] or [head, dest] for patterns
            differs[name] = (source != own).any(0).any(-1).cpu()
    seen: dict[Site, bool] = {}

    def same(site: Site) -> bool:
        if site not in seen:  # site_mask lays the reduced map out as the activation's axes
            where = differs.get(site.hook_name)
            changed = where is None or bool(where[site_mask(site, tuple(where.shape))].any())
            seen[site] = not changed
        return seen[site]

    return [bool(group) and all(same(site) for site in group) for group in groups]


PLAN_LIMIT = 2_000_000
"""Above this many (group, chunk length) pairs `plan_chunks` cuts at layer changes instead."""


def pass_cost(model: Model, n_batch: int) -> float:
    """A forward pass's fixed cost in the units of `plan_chunks` (one prompt through a block).

    Estimated as 5 ms at 20 GFLOP/s (this machine's one-thread pace), 1e8 flops, over one
    prompt position's flops through a block (about ``24 d_model^2`` with a 4x MLP): counted
    against whole prompts, that weighs a pass as many times more as prompts have positions:
    a bias toward fewer, larger passes, with which the benchmarks were measured (not re-tuned).
    """
    cfg = model.cfg
    d_mlp = cfg.d_mlp or 4 * cfg.d_model
    per_position = 8 * cfg.d_model**2 + 4 * cfg.d_model * d_mlp
    return 1e8 / per_position / max(n_batch, 1)


def plan_chunks(
    order: Sequence[int],
    layer: Sequence[int],
    per_chunk: int,
    n_layers: int,
    overhead: float,
) -> list[list[int]]:
    """The groups (in ``order``, sorted by ``layer``) cut into chunks that cost least.

    Consecutive chunks of at most ``per_chunk`` groups, cut by dynamic programming. A chunk
    of ``k`` groups whose first layer is ``l`` costs ``k (n_layers - l) + overhead``
    (per prompt: rows x blocks run, plus a pass's fixed cost): a chunk that mixes layers runs
    the later layer's groups through blocks they do not need, and many small chunks pay the
    fixed cost many times. Cut every ``per_chunk`` groups, as before, GPT-2-sized head
    patching (12 heads a layer, 16 groups a chunk) started every chunk a layer early.
    Positions do not enter the plan: cut into position ranges so that each chunk starts at a
    later position, GPT-2-shaped resid patching (192 sites) took 20.1 s against 12.2 s in one
    chunk a layer, each pass's key/value prefix and small matmuls costing more than the
    positions skipped.
    """
    n = len(order)
    if n == 0:
        return []
    if n * per_chunk > PLAN_LIMIT:  # cut at every layer change, then every per_chunk
        chunks: list[list[int]] = []
        for index in order:
            if not chunks or len(chunks[-1]) == per_chunk or layer[chunks[-1][0]] != layer[index]:
                chunks.append([])
            chunks[-1].append(index)
        return chunks
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for begin in range(end - 1, max(end - per_chunk, 0) - 1, -1):
            work = (end - begin) * (n_layers - layer[order[begin]])
            cost = best[begin] + work + overhead
            if cost < best[end]:
                best[end], cut[end] = cost, begin
    chunks = []
    end = n
    while end > 0:
        chunks.append(list(order[cut[end] : end]))
        end = cut[end]
    return chunks[::-1]
