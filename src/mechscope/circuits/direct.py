"""Direct logit attribution: what each part of the stream writes into a logit direction.

The final stream is split into its parts (`mechscope.circuits.stream`); each part goes through
the final normalisation with its scale frozen at the run's value (RMSNorm: ``x / scale * w``;
LayerNorm: ``(x - mean x) / scale * w``, its bias one more part) and is read along
``W_U[:, answer] - W_U[:, wrong]`` (or ``W_U[:, answer]`` alone). The attribution is linear
only with that scale frozen: a part's number is its direct effect in this run, not what
removing it would do (that is patching). Summed over the parts it equals the model's logit
(difference) minus the unembedding bias, at every position, to float rounding.

A decoder is needed: BERT's MLM head puts a GELU between the stream and the logits, so no
linear read-out of it exists.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.circuits.stream import (
    decomposition_hooks,
    group_heads,
    parts_from_cache,
)
from mechscope.core.axes import HeadId
from mechscope.core.batch import TokenBatch
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, hook_name
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import as_token_batch

FINAL_NORM_BIAS = "final norm bias"


def head_grid(
    labels: list[str], values: Float[Tensor, " component"], n_layers: int, n_heads: int
) -> Float[Tensor, "layer head"]:
    """The head parts ("L.H") of ``values`` laid out as a layer x head grid (others dropped)."""
    grid = torch.zeros(n_layers, n_heads)
    for index, label in enumerate(labels):
        if label[0].isdigit():
            grid[HeadId.parse(label)] = values[index]
    return grid


@dataclass(frozen=True)
class DirectAttribution(Result):
    """Per part of the final stream, prompt and position: its direct effect on the logit."""

    kind: ClassVar[str] = "direct-attribution"
    labels: list[str]
    """Parts: embedding parts, heads "L.H", "mlp L", and "final norm bias" for LayerNorm."""
    values: Float[Tensor, "component batch pos"]
    logit: Float[Tensor, "batch pos"]
    """The model's logit (difference) at each position, unembedding bias included."""
    unembed_bias: Float[Tensor, "batch pos"]
    """The unembedding bias along the direction (the part no component writes)."""
    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    answers: Int[Tensor, "batch pos"]
    """The answer read at each position."""
    wrong: Int[Tensor, "batch pos"] | None = None

    def _summary(self) -> dict[str, Any]:
        return {"error": self.error()}

    def error(self) -> float:
        """Largest |sum of the parts + bias - the model's logit| over real positions."""
        total = self.values.sum(0) + self.unembed_bias
        gap = (total - self.logit).abs() * self.attention_mask
        return float(gap.max())

    def at_last(self) -> Float[Tensor, "component batch"]:
        """Each prompt's values at its last real position (where the answer is predicted)."""
        last = self.attention_mask.sum(-1) - 1
        return self.values[:, torch.arange(self.values.shape[1]), last]

    def by_head(self, n_layers: int, n_heads: int) -> Float[Tensor, "layer head"]:
        """Mean over prompts at the last position, as a layer x head grid."""
        return head_grid(self.labels, self.at_last().mean(-1), n_layers, n_heads)

    def grouped(self) -> tuple[list[str], Float[Tensor, "group batch pos"]]:
        """Heads summed per layer ("attn L"); other parts as they are."""
        return group_heads(self.labels, self.values)

    def ranked(self, top: int | None = None) -> list[tuple[str, float, float]]:
        """(part, mean, standard error) over prompts at the last position, largest |mean| first."""
        last = self.at_last()
        n = last.shape[1]
        sem = last.std(-1) / n**0.5 if n > 1 else torch.full_like(last[:, 0], float("nan"))
        mean = last.mean(-1)
        order = mean.abs().argsort(descending=True).tolist()[:top]
        return [(self.labels[i], float(mean[i]), float(sem[i])) for i in order]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per part: mean and standard error over prompts at the last position."""
        import pandas as pd

        last = self.at_last()
        n = last.shape[1]
        sem = last.std(-1) / n**0.5 if n > 1 else torch.full_like(last[:, 0], float("nan"))
        return pd.DataFrame(
            {"part": self.labels, "mean": last.mean(-1).tolist(), "sem": sem.tolist()}
        )


@torch.no_grad()
def direct_logit_attribution(
    model: Model,
    tokens: TokenBatch | Int[Tensor, "batch pos"],
    answers: Int[Tensor, " answers"] | Int[Tensor, "answers pos"],
    wrong: Int[Tensor, " answers"] | Int[Tensor, "answers pos"] | None = None,
) -> DirectAttribution:
    """Each part's direct effect on ``answers``' logit (minus ``wrong``'s) at every position.

    ``answers`` (and ``wrong``): one token per prompt, read at every position, or one per
    prompt and position (e.g. the actual next token, for per-position attributions).
    """
    adapter = adapt(model)
    adapter.require_unembedding("direct logit attribution")
    decoder = adapter.decoder("direct logit attribution")
    batch = as_token_batch(model, tokens)
    shapes = ((batch.tokens.shape[0],), tuple(batch.tokens.shape))
    if tuple(answers.shape) not in shapes or (wrong is not None and wrong.shape != answers.shape):
        raise MechscopeError(
            f"give one answer (and one wrong token) per prompt, or per prompt and position: "
            f"tokens {tuple(batch.tokens.shape)}, answers {tuple(answers.shape)}."
        )
    n_layers = decoder.cfg.n_layers
    names = decomposition_hooks(decoder, n_layers)
    final_scale = hook_name(Component.LN_FINAL_SCALE)
    has_norm = hasattr(decoder, "ln_final") and final_scale in decoder.hook_dict
    if has_norm:
        names.append(final_scale)
    logits, cache = decoder.run_with_cache(
        batch.tokens,
        names_filter=names,
        **adapter.forward_kwargs(batch),  # pyright: ignore[reportArgumentType]
    )
    labels, parts = parts_from_cache(decoder, cache, n_layers)
    if has_norm:
        norm = decoder.ln_final
        centre = decoder.cfg.normalization_type in ("LN", "LNPre")
        if centre:
            parts = parts - parts.mean(-1, keepdim=True)
        parts = parts / cache[final_scale]
        weight = getattr(norm, "w", None)
        if weight is not None:
            parts = parts * weight
        bias = getattr(norm, "b", None)
        if bias is not None:
            parts = torch.cat([parts, bias.expand_as(parts[0])[None]])
            labels.append(FINAL_NORM_BIAS)
    device, n_pos = parts.device, batch.tokens.shape[1]

    def per_position(ids: Tensor) -> Tensor:
        ids = ids.to(device)
        return ids[:, None].expand(-1, n_pos) if ids.ndim == 1 else ids

    answers = per_position(answers)
    direction = decoder.W_U.T[answers]  # batch pos d_model
    logit = logits.gather(-1, answers[..., None])[..., 0]
    bias = decoder.b_U[answers]
    if wrong is not None:
        wrong = per_position(wrong)
        direction = direction - decoder.W_U.T[wrong]
        logit = logit - logits.gather(-1, wrong[..., None])[..., 0]
        bias = bias - decoder.b_U[wrong]
    values = torch.einsum("cbpd,bpd->cbp", parts, direction)
    return DirectAttribution(
        labels=labels,
        values=values.cpu(),
        logit=logit.cpu(),
        unembed_bias=bias.cpu(),
        tokens=batch.tokens.cpu(),
        attention_mask=batch.attention_mask.cpu(),
        answers=answers.cpu(),
        wrong=None if wrong is None else wrong.cpu(),
        provenance=Provenance(model=model_spec(model)),
    )
