"""The residual stream as the sum of what wrote it, and how much each block writes.

`decompose_stream` splits the stream entering a block (or leaving the last one) into the
embedding parts (token, learned position, token type), every head's output with its share
``b_O / n_heads`` of the attention bias, and every MLP's output. In a pre-norm decoder the
stream is that sum exactly. In a post-norm encoder (BERT) a LayerNorm follows each sub-layer
inside the stream; with each LayerNorm's scale frozen at its value in the run it is affine,
``(x - mean(x)) / scale * w + b``, so every part is carried through it and the biases become
one more part (``norm biases``): the parts again sum to the stream exactly, but only for that
run's scales (a different input moves the scales, and with them every part).

`stream_norms` gives the stream's norm by boundary, the norm of what each block writes and
the cosine between that write and the stream the block read.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.batch import TokenBatch
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, hook_name
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_stream, target_hook
from mechscope.models.tokens import as_token_batch

NORM_BIASES = "norm biases"
"""The part that collects the LayerNorm biases of a post-norm model (absent in pre-norm)."""

Parts = Float[Tensor, "component batch pos d_model"]


def group_heads(labels: list[str], values: Tensor) -> tuple[list[str], Tensor]:
    """Sum the consecutive head parts ("L.H") of each layer into "attn L" (first axis)."""
    names, groups = [], []
    for label, value in zip(labels, values, strict=True):
        name = f"attn {label.split('.')[0]}" if label[0].isdigit() else label
        if names and names[-1] == name:
            groups[-1] = groups[-1] + value
        else:
            names.append(name)
            groups.append(value)
    return names, torch.stack(groups)


def _frozen_norm(
    parts: Parts, scale: Float[Tensor, "batch pos 1"], norm: torch.nn.Module, centre: bool
) -> Parts:
    """Each part through a normalisation whose scale is frozen (its bias not added)."""
    if centre:
        parts = parts - parts.mean(-1, keepdim=True)
    parts = parts / scale
    weight = getattr(norm, "w", None)
    return parts * weight if weight is not None else parts


def _norm_bias(norm: torch.nn.Module) -> Tensor | float:
    bias = getattr(norm, "b", None)
    return bias if bias is not None else 0.0


def decomposition_hooks(model: Model, layer: int) -> list[str]:
    """Every hook `decompose_stream` reads for the stream entering ``layer``."""
    adapter = adapt(model)
    names = [*adapter.embedding_hooks, target_hook(model, layer)]
    for l in range(layer):  # noqa: E741 - the layer index
        names.append(hook_name(Component.Z, l))
        if not model.cfg.attn_only:
            names.append(hook_name(Component.MLP_OUT, l))
        if adapter.post_norm:
            names += [hook_name(Component.LN1_SCALE, l), hook_name(Component.LN2_SCALE, l)]
    if adapter.post_norm:
        names.append(hook_name(Component.EMBED_LN_SCALE))
    return names


def parts_from_cache(model: Model, cache: Any, layer: int) -> tuple[list[str], Parts]:
    """The parts of the stream entering ``layer`` from a cache of `decomposition_hooks`.

    The parts are gathered in chunks (the embeddings, then each layer's heads and MLP) and
    concatenated once: growing one tensor layer by layer copied every earlier part again at
    each layer (on SmolLM2's 30 layers, most of the decomposition's time).
    """
    adapter = adapt(model)
    post_norm = adapter.post_norm
    labels = [name.split(".")[-1].removeprefix("hook_") for name in adapter.embedding_hooks]
    chunks = [torch.stack([cache[name] for name in adapter.embedding_hooks])]

    def through(scale: Tensor, norm: torch.nn.Module) -> None:
        """Every part so far through a frozen-scale norm; its bias into the norm-biases part."""
        for i, chunk in enumerate(chunks):
            chunks[i] = _frozen_norm(chunk, scale, norm, centre=True)
        chunks[0][-1] += _norm_bias(norm)  # the norm-biases part ends the first chunk

    if post_norm:
        chunks[0] = torch.cat([chunks[0], torch.zeros_like(chunks[0][:1])])
        labels.append(NORM_BIASES)
        embed_ln: torch.nn.Module = model.embed.ln  # pyright: ignore[reportAttributeAccessIssue, reportAssignmentType]
        through(cache[hook_name(Component.EMBED_LN_SCALE)], embed_ln)
    n_heads = model.cfg.n_heads
    for l in range(layer):  # noqa: E741 - the layer index
        block = model.blocks[l]
        heads = torch.einsum("bphe,hed->hbpd", cache[hook_name(Component.Z, l)], block.attn.W_O)
        bias = block.attn.b_O  # None on the Bridge of a model without one (Llama)
        chunks.append(heads + bias / n_heads if bias is not None else heads)
        labels += [f"{l}.{h}" for h in range(n_heads)]
        if post_norm:
            through(cache[hook_name(Component.LN1_SCALE, l)], block.ln1)
        if model.cfg.attn_only:
            continue
        chunks.append(cache[hook_name(Component.MLP_OUT, l)][None])
        labels.append(f"mlp {l}")
        if post_norm:
            through(cache[hook_name(Component.LN2_SCALE, l)], block.ln2)
    return labels, torch.cat(chunks)


@dataclass(frozen=True)
class StreamDecomposition(Result):
    """The stream at one site as a sum of parts (see the module docstring)."""

    kind: ClassVar[str] = "stream-decomposition"
    labels: list[str]
    """Part names: embedding parts, heads "L.H", "mlp L" and, post-norm, "norm biases"."""
    parts: Float[Tensor, "component batch pos d_model"]
    stream: Float[Tensor, "batch pos d_model"]
    """The stream itself, as the model computed it."""
    site: str
    """The hook decomposed."""

    def _summary(self) -> dict[str, Any]:
        return {"error": self.error()}

    def error(self) -> float:
        """Largest |sum of the parts - the stream| (float rounding only)."""
        return float((self.parts.sum(0) - self.stream).abs().max())

    def grouped(self) -> tuple[list[str], Float[Tensor, "group batch pos d_model"]]:
        """Heads summed per layer ("attn L"); other parts as they are."""
        return group_heads(self.labels, self.parts)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per part: its mean norm over the batch and positions."""
        import pandas as pd

        norms = self.parts.norm(dim=-1).flatten(1).mean(-1).tolist()
        return pd.DataFrame({"part": self.labels, "mean_norm": norms})


@torch.no_grad()
def decompose_stream(
    model: Model, tokens: TokenBatch | Int[Tensor, "batch pos"], layer: int | None = None
) -> StreamDecomposition:
    """The stream entering block ``layer`` (default: after the last block) as its parts."""
    layer = model.cfg.n_layers if layer is None else layer
    batch = as_token_batch(model, tokens)
    names = decomposition_hooks(model, layer)
    _, cache = model.run_with_cache(
        batch.tokens,
        names_filter=names,
        return_type=None,
        **adapt(model).forward_kwargs(batch),  # pyright: ignore[reportArgumentType]
    )
    labels, parts = parts_from_cache(model, cache, layer)
    site = target_hook(model, layer)
    return StreamDecomposition(
        labels, parts, cache[site], site, provenance=Provenance(model=model_spec(model))
    )


@dataclass(frozen=True)
class StreamNorms(Result):
    """How the stream grows: its norm by boundary, each block's write, write-read cosine.

    Means over the real positions of every prompt, with standard errors over prompts.
    """

    kind: ClassVar[str] = "stream-norms"
    norm: Float[Tensor, "boundary prompt"]
    """||stream|| entering each block and after the last."""
    write_norm: Float[Tensor, "layer prompt"]
    """||what block l adds|| (attention plus MLP; post-norm models: output minus input)."""
    cosine: Float[Tensor, "layer prompt"]
    """cos(what block l adds, the stream it read)."""

    def _summary(self) -> dict[str, Any]:
        return {"summary": self.summary()}

    def summary(self) -> dict[str, list[tuple[float, float]]]:
        """Per quantity: (mean, standard error over prompts) by boundary or layer."""

        def stats(values: Tensor) -> list[tuple[float, float]]:
            n = values.shape[1]
            sem = values.std(1) / n**0.5 if n > 1 else torch.full_like(values[:, 0], float("nan"))
            return list(zip(values.mean(1).tolist(), sem.tolist(), strict=True))

        return {"norm": stats(self.norm), "write_norm": stats(self.write_norm),
                "cosine": stats(self.cosine)}  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per layer: stream norm read, write norm, cosine (means over prompts)."""
        import pandas as pd

        return pd.DataFrame({"layer": range(self.write_norm.shape[0]),
                             "stream_norm": self.norm[:-1].mean(1).tolist(),
                             "write_norm": self.write_norm.mean(1).tolist(),
                             "cosine": self.cosine.mean(1).tolist()})  # fmt: skip


@torch.no_grad()
def stream_norms(model: Model, tokens: TokenBatch | Int[Tensor, "batch pos"]) -> StreamNorms:
    """Norms and write-read cosines of the stream, per prompt (see `StreamNorms`)."""
    batch = as_token_batch(model, tokens)
    stream = boundary_stream(model, batch)
    mask = batch.attention_mask.to(stream.device).float()
    count = mask.sum(-1)

    def mean_over_positions(values: Tensor) -> Tensor:
        return ((values * mask).sum(-1) / count).cpu()

    writes = stream[1:] - stream[:-1]
    cosine = torch.nn.functional.cosine_similarity(writes, stream[:-1], dim=-1)
    return StreamNorms(
        mean_over_positions(stream.norm(dim=-1)),
        mean_over_positions(writes.norm(dim=-1)),
        mean_over_positions(cosine),
        provenance=Provenance(model=model_spec(model)),
    )
