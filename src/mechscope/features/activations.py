"""Activations for sparse autoencoders: read at one site over windows of text, in batches.

The model runs only as far as the site (`mechscope.models.run_until`), a few windows at a
time; the activations of every real token (not padding, and not the BOS position, whose
activation is an outlier every window shares) are kept in one ``[token, d_in]`` tensor, and
`shuffled_batches` feeds them to a trainer in random order, epoch after epoch.
"""

from collections.abc import Callable, Iterator, Sequence

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.models import Model, keyed_hooks, run_until
from mechscope.models.tokens import forward_kwargs, pad_id


def real_token_mask(
    model: Model, tokens: Int[Tensor, "batch pos"], skip_bos: bool = True
) -> Bool[Tensor, "batch pos"]:
    """True at every real token of ``tokens``.

    Not padding, and not the BOS position when the model puts one there and ``skip_bos``.
    """
    keep = tokens != pad_id(model)
    if skip_bos and model.cfg.default_prepend_bos:
        keep[:, 0] = False
    return keep


@torch.no_grad()
def capture_sites(model: Model, batch: TokenBatch, hooks: Sequence[str]) -> dict[str, Tensor]:
    """The activations at ``hooks`` for ``batch`` (by hook name), its padding masked.

    The pass stops once the latest of ``hooks`` in the forward pass has fired.
    """
    order = list(model.hook_dict)
    seen: dict[str, Tensor] = {}

    def read(act: Tensor, name: str) -> None:
        seen[name] = act.detach()

    run_until(model, batch.tokens, max(hooks, key=order.index), keyed_hooks(hooks, read),
              **forward_kwargs(model, batch))  # fmt: skip
    return seen


SiteReader = Callable[[Model, Tensor, Sequence[str]], list[Tensor]]
"""``reader(model, windows, hooks)``: the activations at each hook of every real token of the
windows, as `read_sites` returns them (e.g. `mechscope.executors.sharded_read_sites`, which
reads shards of the windows on workers)."""


@torch.no_grad()
def read_sites(
    model: Model,
    windows: Int[Tensor, "batch pos"],
    hooks: Sequence[str],
    *,
    batch_size: int = 8,
    skip_bos: bool = True,
    progress: bool = True,
    desc: str = "activations",
) -> list[Float[Tensor, "token d_in"]]:
    """The activations at each of ``hooks`` of every real token of ``windows`` (float32).

    Each batch runs through `capture_sites` (padding masked; the pass stops after the latest
    of ``hooks``).
    """
    chunks: list[list[Tensor]] = [[] for _ in hooks]
    rows = range(0, windows.shape[0], batch_size)
    pad = pad_id(model)
    for start in tqdm(rows, desc=desc, disable=not progress, leave=False):
        tokens = windows[start : start + batch_size]
        seen = capture_sites(model, TokenBatch(tokens, (tokens != pad).long()), hooks)
        keep = real_token_mask(model, tokens, skip_bos)
        for name, chunk in zip(hooks, chunks, strict=True):
            chunk.append(seen[name][keep.to(seen[name].device)].float().cpu())
    if not rows:
        raise MechscopeError("no windows to read activations from.")
    return [torch.cat(chunk) for chunk in chunks]


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
    return read_sites(model, windows, [hook], batch_size=batch_size, skip_bos=skip_bos,
                      progress=progress, desc=f"activations at {hook}")[0]  # fmt: skip


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
