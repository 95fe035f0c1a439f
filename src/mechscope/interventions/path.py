"""Path patching: the effect of sender heads on receiver heads through one input.

Wang et al. 2022 ("Interpretability in the Wild", §3.1); Goldowsky-Dill et al. 2023. The
senders act on the receivers only through the receivers' Q, K or V input, with every other
path frozen.

With grouped-query attention, a receiver's keys and values are those of its shared key/value
head, so patching K or V reaches every query head of that group.

Noising, in three runs on the clean prompts:

1. cache every head's ``hook_z`` (and every MLP's output) on the clean run, and the senders'
   ``hook_z`` on the corrupted run;
2. run clean with the senders' ``z`` set to their corrupted values and every other head and
   MLP frozen at its clean value, and record the receivers' chosen input (``hook_q``,
   ``hook_k`` or ``hook_v`` of the receiver heads): it now differs only through the direct
   sender -> receiver path;
3. run clean with only those receiver inputs replaced by the recorded ones, and measure.

The result is normalised like activation patching (corrupted 0, clean 1), so a value near 0
means the path carries the whole behaviour, near 1 that it carries none of it.

`path_attribution` estimates the same quantity for every earlier head as the sender at once,
to first order (edge attribution patching, Syed et al. 2023): one backward pass on the clean
run gives the metric's gradient at each receiver's own copy of its Q, K or V input
(TransformerLens's split inputs, before ln1), and a sender's estimate is its corrupted minus
clean output (``z W_O``) dotted with that gradient, summed over prompts and positions. The
sender reaches that copy only directly, so this is the direct path's effect, linearised;
exact when the receiver's output and the metric are linear in that input (tested). Use it to
choose the senders worth patching exactly.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens.hook_points import HookPoint

from mechscope.core.axes import HeadId
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import normalise
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, Site
from mechscope.interventions.ablation import check_heads
from mechscope.interventions.engine import run_patches
from mechscope.interventions.runs import PairedRuns
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Decoder
from mechscope.models.run import keep_for_gradient, keyed_hooks
from mechscope.models.tokens import forward_kwargs

RECEIVER_INPUTS = (Component.Q, Component.K, Component.V)


@dataclass(frozen=True)
class PathResult(Result):
    """The metric with the sender -> receiver path patched, and its baselines."""

    kind: ClassVar[str] = "path-patching"
    senders: tuple[HeadId, ...]
    receivers: tuple[HeadId, ...]
    receiver_input: Component
    value: float
    clean: float
    corrupted: float

    @property
    def normalised(self) -> float:
        """0 = the corrupted run, 1 = the clean run."""
        return normalise(self.value, self.clean, self.corrupted)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row: senders, receivers, input, value, baselines and the normalised value."""
        import pandas as pd

        return pd.DataFrame([self._data() | {"normalised": self.normalised}])


@torch.no_grad()
def path_patching(
    runs: PairedRuns,
    senders: Iterable[HeadId | tuple[int, int]],
    receivers: Iterable[HeadId | tuple[int, int]],
    receiver_input: Component = Component.K,
) -> PathResult:
    """Patch the senders' corrupted output into the receivers' ``receiver_input`` only.

    Raises:
        MechscopeError: an input other than Q/K/V, heads out of range, or a receiver not
            after every sender.
    """
    model = runs.model
    if receiver_input not in RECEIVER_INPUTS:
        raise MechscopeError(f"receiver_input must be Q, K or V, got {receiver_input.name}.")
    sender_ids, receiver_ids = check_heads(model, senders), check_heads(model, receivers)
    if not sender_ids or not receiver_ids:
        raise MechscopeError("give at least one sender and one receiver head.")
    if min(r.layer for r in receiver_ids) <= max(s.layer for s in sender_ids):
        raise MechscopeError("every receiver must be in a later layer than every sender.")
    n_layers = model.cfg.n_layers
    z_names = [Site(Component.Z, layer).hook_name for layer in range(n_layers)]
    mlp_names = (
        []
        if model.cfg.attn_only
        else [Site(Component.MLP_OUT, layer).hook_name for layer in range(n_layers)]
    )
    clean_cache = runs.clean.get(z_names + mlp_names)
    corrupted_cache = runs.corrupted.get(z_names)
    clean = runs.clean.batch
    sender_heads: dict[int, list[int]] = {}
    for head in sender_ids:
        sender_heads.setdefault(head.layer, []).append(head.head)

    def freeze(name: str, senders: list[int]):  # noqa: ANN202 - a TransformerLens hook closure
        """Replace an activation by its clean value, the ``senders`` heads by corrupted ones."""

        def hook(act: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001 - replaced whole
            frozen = clean_cache[name].clone()
            if senders:
                frozen[:, :, senders] = corrupted_cache[name][:, :, senders]
            return frozen

        return hook

    # With grouped-query attention a query head's keys and values belong to a shared
    # key/value head: patching them reaches every query head of that group.
    adapter = adapt(model)
    shared = receiver_input in (Component.K, Component.V)
    receiver_sites = sorted(
        {
            Site(receiver_input, r.layer, adapter.key_value_head(r.head) if shared else r.head)
            for r in receiver_ids
        },
        key=str,
    )
    receiver_names = sorted({site.hook_name for site in receiver_sites})
    recorded: dict[str, Tensor] = {}

    def record(act: Tensor, name: str) -> None:
        recorded[name] = act.clone()

    hooks = [
        (z_names[layer], freeze(z_names[layer], sender_heads.get(layer, [])))
        for layer in range(n_layers)
    ]
    hooks += [(name, freeze(name, [])) for name in mlp_names]
    hooks += keyed_hooks(receiver_names, record)
    with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
        model(clean.inputs, return_type=None, **forward_kwargs(model, clean))
    # Step 3 is an ordinary patch: the receivers' inputs from the recorded run, nothing else.
    value = float(run_patches(model, clean, recorded, runs.metric, [receiver_sites])[0])
    return PathResult(
        tuple(sender_ids),
        tuple(receiver_ids),
        receiver_input,
        value,
        runs.clean_value,
        runs.corrupted_value,
        provenance=Provenance(
            config={"receiver_input": receiver_input.name}, model=model_spec(model)
        ),
    )


def sender_sweep(
    runs: PairedRuns,
    receivers: Sequence[HeadId | tuple[int, int]],
    receiver_input: Component = Component.K,
) -> Float[Tensor, "layer head"]:
    """Normalised path-patching value of every single earlier head as the sender.

    Returns ``[layer, head]``; NaN for heads not before every receiver.
    """
    model = runs.model
    receiver_ids = check_heads(model, receivers)
    first = min(r.layer for r in receiver_ids)
    grid = torch.full((model.cfg.n_layers, model.cfg.n_heads), torch.nan)
    for layer in range(first):
        for head in range(model.cfg.n_heads):
            result = path_patching(runs, [HeadId(layer, head)], receiver_ids, receiver_input)
            grid[layer, head] = result.normalised
    return grid


SPLIT_INPUT = {Component.Q: Component.Q_INPUT, Component.K: Component.K_INPUT,
               Component.V: Component.V_INPUT}  # fmt: skip
"""Each receiver input's per-head copy of the stream (`path_attribution`)."""


@contextmanager
def split_qkv_inputs(model: Decoder) -> Iterator[Decoder]:
    """TransformerLens's per-head Q/K/V input hooks switched on; off again on every exit."""
    before = model.cfg.use_split_qkv_input
    # the setter, not the config flag: the Bridge forks its attention inputs only through it
    model.set_use_split_qkv_input(True)
    try:
        yield model
    finally:
        model.set_use_split_qkv_input(before)


def path_attribution(
    runs: PairedRuns,
    receivers: Sequence[HeadId | tuple[int, int]],
    receiver_input: Component = Component.K,
) -> Float[Tensor, "layer head"]:
    """First-order `sender_sweep`: every earlier head's path into the receivers, one backward.

    Normalised like `path_patching` (clean 1, corrupted 0): ``1 + estimate / (clean -
    corrupted)``. Returns ``[layer, head]``; NaN for heads not before every receiver.

    Raises:
        MechscopeError: an input other than Q/K/V, heads out of range, or a model without
            split Q/K/V inputs (an encoder).
    """
    model = runs.model
    if receiver_input not in RECEIVER_INPUTS:
        raise MechscopeError(f"receiver_input must be Q, K or V, got {receiver_input.name}.")
    adapter = adapt(model)
    decoder = adapter.decoder("path attribution")
    receiver_ids = check_heads(model, receivers)
    if not receiver_ids:
        raise MechscopeError("give at least one receiver head.")
    first = min(r.layer for r in receiver_ids)
    shared = receiver_input in (Component.K, Component.V)
    inputs = {r.layer: Site(SPLIT_INPUT[receiver_input], r.layer).hook_name for r in receiver_ids}
    z_names = [Site(Component.Z, layer).hook_name for layer in range(first)]
    clean_z, corrupted_z = runs.clean.get(z_names), runs.corrupted.get(z_names)
    kept: dict[str, Tensor] = {}

    clean = runs.clean.batch
    names = sorted(set(inputs.values()))
    with (
        split_qkv_inputs(decoder),
        torch.enable_grad(),
        decoder.hooks(fwd_hooks=keyed_hooks(names, keep_for_gradient(kept))),  # pyright: ignore[reportArgumentType]
    ):
        value = runs.metric(decoder(clean.inputs, **forward_kwargs(decoder, clean)))
        grads = dict(zip(names, torch.autograd.grad(value, [kept[n] for n in names]), strict=True))
    # The gradient each receiver's input copy gets, summed over the receivers of a layer.
    by_layer: dict[int, Tensor] = {}
    for r in receiver_ids:
        index = adapter.key_value_head(r.head) if shared else r.head
        grad = grads[inputs[r.layer]][:, :, index]  # batch pos d_model
        if shared and any(
            o.layer == r.layer and adapter.key_value_head(o.head) == index and o.head < r.head
            for o in receiver_ids
        ):
            continue  # query heads sharing a key/value head share one input copy
        by_layer[r.layer] = by_layer.get(r.layer, 0) + grad
    grid = torch.full((model.cfg.n_layers, model.cfg.n_heads), torch.nan)
    span = runs.clean_value - runs.corrupted_value
    with torch.no_grad():
        for layer in range(first):
            name = z_names[layer]
            delta = corrupted_z[name] - clean_z[name]  # batch pos head d_head
            out = torch.einsum("bphd,hdm->bphm", delta, decoder.W_O[layer])
            estimate = sum(torch.einsum("bphm,bpm->h", out, g) for g in by_layer.values())
            grid[layer] = 1 + torch.as_tensor(estimate).cpu() / span
    return grid
