"""Layer dropping: skip whole blocks and measure what the model still does.

A dropped block's output is replaced by its input (the residual stream passes it by
untouched), through hooks on the block's input (``hook_resid_pre``) and output
(``hook_resid_post``, or ``hook_normalized_resid_post`` for post-norm encoders such as BERT
and MiniLM, whose block output is the normalised stream). `layer_dropping` drops every
block in turn (single) and the top ``k`` blocks together for every ``k`` (cumulative from
the top), and runs each measure under every condition. A measure is any function of the
model (an LM loss, a probe's accuracy on the last layer's activations, a task's logit
difference), so the same sweep serves every task; each is run once on the intact model too.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.hook_points import HookPoint

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, hook_name
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model


@contextmanager
def dropped_blocks(model: Model, layers: Iterable[int]) -> Iterator[None]:
    """Within the block, each of ``layers`` passes its input through unchanged.

    Raises:
        MechscopeError: a layer outside ``0..n_layers - 1``.
    """
    layers = sorted(set(layers))
    n_layers = model.cfg.n_layers
    if bad := [layer for layer in layers if not 0 <= layer < n_layers]:
        raise MechscopeError(f"block {bad[0]} is outside 0..{n_layers - 1}.")
    output = Component.NORMALIZED_RESID_POST if adapt(model).post_norm else Component.RESID_POST
    inputs: dict[int, Tensor] = {}

    def keep(x: Tensor, hook: HookPoint) -> None:
        inputs[int(hook.layer())] = x

    def bypass(x: Tensor, hook: HookPoint) -> Tensor:  # noqa: ARG001 - hook signature
        return inputs.pop(int(hook.layer()))

    hooks = [(hook_name(Component.RESID_PRE, layer), keep) for layer in layers]
    hooks += [(hook_name(output, layer), bypass) for layer in layers]
    with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
        yield


@dataclass(frozen=True)
class Measure:
    """A number measured on the model: its name, function and direction."""

    name: str
    fn: Callable[[Model], float]
    higher_is_better: bool = True


@dataclass(frozen=True)
class LayerDropping(Result):
    """Every measure on the intact model and with blocks dropped."""

    kind: ClassVar[str] = "layer-dropping"
    conditions: tuple[str, ...]
    """``intact``, ``drop block L`` (one block), ``drop top k`` (the top k blocks)."""
    measures: tuple[str, ...]
    values: Float[Tensor, "condition measure"]
    higher_is_better: tuple[bool, ...]

    def value(self, condition: str, measure: str) -> float:
        """One measure under one condition."""
        return float(self.values[self.conditions.index(condition), self.measures.index(measure)])

    def single(self, measure: str) -> Float[Tensor, " layer"]:
        """The measure with each block dropped alone, block 0 first."""
        rows = [i for i, c in enumerate(self.conditions) if c.startswith("drop block ")]
        return self.values[rows, self.measures.index(measure)]

    @property
    def top_ks(self) -> list[int]:
        """The ``k`` of each cumulative condition, in order."""
        return [int(c.removeprefix("drop top ")) for c in self.conditions
                if c.startswith("drop top ")]  # fmt: skip

    def cumulative(self, measure: str) -> Float[Tensor, " layer"]:
        """The measure with the top k blocks dropped, for each of `top_ks`."""
        rows = [i for i, c in enumerate(self.conditions) if c.startswith("drop top ")]
        return self.values[rows, self.measures.index(measure)]

    def harm(self, measure: str) -> Float[Tensor, " condition"]:
        """How much each condition hurts the measure against the intact model (positive=worse)."""
        column = self.values[:, self.measures.index(measure)]
        change = column - column[self.conditions.index("intact")]
        return -change if self.higher_is_better[self.measures.index(measure)] else change

    def most_needed(self, measure: str) -> int:
        """The block whose dropping alone hurts ``measure`` most."""
        rows = [i for i, c in enumerate(self.conditions) if c.startswith("drop block ")]
        return int(self.harm(measure)[rows].argmax())

    def table(self) -> list[dict[str, Any]]:
        """One row per condition and measure."""
        return [{"condition": c, "measure": m, "value": float(self.values[i, j])}
                for i, c in enumerate(self.conditions)
                for j, m in enumerate(self.measures)]  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`table` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def _summary(self) -> dict[str, Any]:
        return {m: {"intact": self.value("intact", m),
                    "most_needed_block": self.most_needed(m) if self.single(m).numel() else None}
                for m in self.measures}  # fmt: skip


def layer_dropping(
    model: Model,
    measures: Sequence[Measure],
    *,
    single: bool = True,
    cumulative: bool = True,
    top: Sequence[int] | None = None,
    progress: bool = True,
) -> LayerDropping:
    """Every measure with each block dropped alone and the top ``k`` dropped (module doc).

    ``top``: the ``k`` of the cumulative conditions (default: every ``k`` from 1 to
    ``n_layers``; a deep model may take every third).

    Raises:
        MechscopeError: no measures, neither single nor cumulative dropping asked for, or a
            ``k`` outside ``1..n_layers``.
    """
    if not measures:
        raise MechscopeError("no measures given; e.g. Measure('loss', fn, False).")
    if not (single or cumulative):
        raise MechscopeError("ask for single or cumulative dropping (or both).")
    n_layers = model.cfg.n_layers
    ks = list(range(1, n_layers + 1)) if top is None else sorted(set(top))
    if bad := [k for k in ks if not 1 <= k <= n_layers]:
        raise MechscopeError(f"top k = {bad[0]} is outside 1..{n_layers}.")
    conditions: list[tuple[str, list[int]]] = [("intact", [])]
    if single:
        conditions += [(f"drop block {layer}", [layer]) for layer in range(n_layers)]
    if cumulative:
        conditions += [(f"drop top {k}", list(range(n_layers - k, n_layers))) for k in ks]
    values = torch.zeros(len(conditions), len(measures))
    for i, (_, layers) in enumerate(tqdm(conditions, desc="layer dropping", disable=not progress)):
        with torch.no_grad(), dropped_blocks(model, layers):
            for j, measure in enumerate(measures):
                values[i, j] = float(measure.fn(model))
    return LayerDropping(
        tuple(name for name, _ in conditions),
        tuple(m.name for m in measures),
        values,
        tuple(m.higher_is_better for m in measures),
        provenance=Provenance(
            config={"single": single, "cumulative": cumulative}, model=model_spec(model)
        ),  # fmt: skip
    )
