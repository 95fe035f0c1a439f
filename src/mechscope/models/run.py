"""Stopping a forward pass early: `run_until`, the one place it is done.

TransformerLens can stop between blocks (``stop_at_layer``), but not inside one, e.g. right
after the last layer's attention pattern when nothing later is needed. `run_until` runs the
model with the given hooks and ends the pass as soon as ``stop_at`` (a hook point) has fired
and every hook on it has run. The hooks are removed on every exit path.
"""

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor
from transformer_lens.hook_points import HookPoint

from mechscope.models.base import Model

Hook = Callable[[Tensor, HookPoint], Tensor | None]


class _Stop(Exception):  # noqa: N818 - raised and caught here only, never seen by callers
    """Ends the pass once the stopping hook point has fired."""


def run_until(
    model: Model,
    tokens: Tensor,
    stop_at: str,
    fwd_hooks: Sequence[tuple[str, Hook]] = (),
    **forward_kwargs: Any,  # noqa: ANN401 - TransformerLens forward arguments
) -> bool:
    """Run ``model`` on ``tokens`` with ``fwd_hooks`` until hook point ``stop_at`` has fired.

    Returns whether the pass stopped there (False if ``stop_at`` never fired, i.e. the pass
    ran to the end). Nothing is returned from the pass itself: read what you need in hooks.

    Raises:
        KeyError: ``stop_at`` is not a hook point of the model.
    """
    if stop_at not in model.hook_dict:
        raise KeyError(f"{stop_at!r} is not a hook point of this model")

    def stop(act: Tensor, hook: HookPoint) -> None:  # noqa: ARG001
        raise _Stop

    hooks = [*fwd_hooks, (stop_at, stop)]  # after the caller's hooks on the same point
    try:
        with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
            model(tokens, return_type=None, **forward_kwargs)
    except _Stop:
        return True
    return False
