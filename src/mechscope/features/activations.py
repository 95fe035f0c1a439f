"""Activations for sparse autoencoders: read at one site over windows of text, in batches.

The model runs only as far as the site (`mechscope.models.run_until`), a few windows at a
time; the activations of every real token (not padding, and not the BOS position, whose
activation is an outlier every window shares) are kept in one ``[token, d_in]`` tensor, and
`shuffled_batches` feeds them to a trainer in random order, epoch after epoch.
"""

from collections.abc import Iterator

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.models import Model, run_until
from mechscope.models.tokens import pad_id


@torch.no_grad()
def site_activations(
    model: Model,
    windows: Int[Tensor, "batch pos"],
    hook: str,
    *,
    batch_size: int = 8,
    skip_bos: bool = True,
    progress: bool = True,
) -> Float[Tensor, "token d_in"]:
    """The activation at ``hook`` of every real token of ``windows``, flattened (float32).

    ``skip_bos``: leave out position 0 when the model puts a BOS token there.
    """
    pad = pad_id(model)
    bos = model.cfg.default_prepend_bos and skip_bos
    chunks: list[Tensor] = []
    rows = range(0, windows.shape[0], batch_size)
    for start in tqdm(rows, desc=f"activations at {hook}", disable=not progress, leave=False):
        tokens = windows[start : start + batch_size]
        seen: dict[str, Tensor] = {}

        def read(act: Tensor, hook: object, seen: dict[str, Tensor] = seen) -> None:  # noqa: ARG001
            seen["act"] = act.detach()

        run_until(model, tokens, hook, [(hook, read)])
        keep = tokens != pad
        if bos:
            keep[:, 0] = False
        chunks.append(seen["act"][keep.to(seen["act"].device)].float().cpu())
    if not chunks:
        raise MechscopeError("no windows to read activations from.")
    return torch.cat(chunks)


def shuffled_batches(
    activations: Float[Tensor, "token d_in"],
    batch_size: int,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> Iterator[Float[Tensor, "batch d_in"]]:
    """Endless batches of ``activations`` in a fresh random order each epoch."""
    if activations.shape[0] < batch_size:
        raise MechscopeError(
            f"{activations.shape[0]} activations are fewer than one batch of {batch_size}; "
            "read more tokens or use a smaller batch."
        )
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(activations.shape[0], generator=generator)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield activations[order[start : start + batch_size]].to(device)
