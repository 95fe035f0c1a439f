"""Splicing an SAE into the model, and editing its features there.

Inside ``with splice(model, sae, hook):`` the activation at ``hook`` is replaced. By default
(``error_term=True``) it becomes ``x + decode(edited features) - decode(features)``: the
SAE's reconstruction plus its error, so features left untouched leave the output exactly as
it was, and an edit changes it by exactly the edit's decoded difference. With
``error_term=False`` it becomes the (edited) reconstruction alone, which is how the loss
with the SAE in place is measured. The hook is removed on every exit path.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from mechscope.core.errors import MechscopeError
from mechscope.features.sites import site_width
from mechscope.models.base import Model

if TYPE_CHECKING:
    from sae_lens import SAE


class EditKind(Enum):
    """What an edit does to its features' activations."""

    ABLATE = "ablate"
    """Set to zero."""
    CLAMP = "clamp"
    """Set to ``value``."""
    ADD = "add"
    """Add ``value`` (steering along the features' decoder directions)."""


@dataclass(frozen=True)
class FeatureEdit:
    """One edit of some features' activations, at every position (or those given)."""

    features: tuple[int, ...]
    kind: EditKind = EditKind.ABLATE
    value: float = 0.0
    positions: tuple[int, ...] | None = None
    """Positions edited (default: all)."""

    def apply(self, acts: Tensor) -> Tensor:
        """``acts`` ([batch, pos, feature]) with this edit applied (a new tensor)."""
        out = acts.clone()
        index = torch.tensor(self.features, device=acts.device)
        rows = slice(None) if self.positions is None else list(self.positions)
        chosen = out[:, rows][..., index]
        if self.kind is EditKind.ABLATE:
            chosen = torch.zeros_like(chosen)
        elif self.kind is EditKind.CLAMP:
            chosen = torch.full_like(chosen, self.value)
        else:
            chosen = chosen + self.value
        view = out[:, rows]
        view[..., index] = chosen
        out[:, rows] = view
        return out


def ablate_features(features: Sequence[int]) -> FeatureEdit:
    """Zero ``features`` at every position."""
    return FeatureEdit(tuple(features), EditKind.ABLATE)


def clamp_features(features: Sequence[int], value: float) -> FeatureEdit:
    """Hold ``features`` at ``value`` at every position."""
    return FeatureEdit(tuple(features), EditKind.CLAMP, value)


def add_features(features: Sequence[int], value: float) -> FeatureEdit:
    """Add ``value`` to ``features`` at every position (steering)."""
    return FeatureEdit(tuple(features), EditKind.ADD, value)


def check_sae_fits(model: Model, sae: "SAE[Any]", hook: str) -> None:
    """Raise unless ``sae`` reads activations as wide as ``hook``'s, and ``hook`` exists.

    Raises:
        MechscopeError: a hook the model lacks, or an SAE of another width.
    """
    if hook not in model.hook_dict:
        raise MechscopeError(f"the model has no hook point {hook!r}.")
    width = site_width(model, hook)
    if sae.cfg.d_in != width:
        raise MechscopeError(
            f"the SAE reads activations of width {sae.cfg.d_in}, but {hook} has width {width}: "
            "it was trained on another model or site."
        )


def splice_activation(
    sae: "SAE[Any]",
    x: Tensor,
    edits: Sequence[FeatureEdit] = (),
    *,
    error_term: bool = True,
) -> Tensor:
    """The activation ``x`` ([batch, pos, d_in]) as the splice replaces it."""
    inputs = x.to(sae.dtype)
    features = sae.encode(inputs)
    edited = features
    for edit in edits:
        edited = edit.apply(edited)
    if not error_term:
        return sae.decode(edited).to(x.dtype)
    # The difference first: with no edit it is exactly zero, so the output is exactly x.
    return (inputs + (sae.decode(edited) - sae.decode(features))).to(x.dtype)


@contextmanager
def splice(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    edits: Sequence[FeatureEdit] = (),
    *,
    error_term: bool = True,
) -> Iterator[Model]:
    """Within the block, ``model`` runs with ``sae`` spliced in at ``hook`` (module doc).

    Raises:
        MechscopeError: a hook the model lacks, or an SAE of another width.
    """
    check_sae_fits(model, sae, hook)

    def replace(act: Tensor, hook: object) -> Tensor:  # noqa: ARG001 - a hook
        return splice_activation(sae, act, edits, error_term=error_term)

    with model.hooks(fwd_hooks=[(hook, replace)]):  # pyright: ignore[reportArgumentType]
        yield model
