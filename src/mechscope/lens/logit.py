"""Logit lens: read the residual stream through the unembedding at every layer boundary.

Following nostalgebraist (2020), the residual stream after the embeddings and after each
block is passed through the model's own final LayerNorm and unembedding, as if the model
stopped there. LayerNorm statistics are recomputed for each boundary's residual, which is
what TransformerLens's ``apply_ln_to_stack(..., recompute_ln=True)`` does for logit lens work
(its default, a single cached scale, would reuse the final layer's normalisation). At the
last boundary the lens therefore equals the model's own output distribution.

Conventions: boundary 0 is the embeddings (``blocks.0.hook_resid_pre``), boundary ``l + 1``
is after block ``l`` (``blocks.l.hook_resid_post``). Log-probs are natural logs; rank 1 is the
top token; KL is ``KL(final || lens)`` in nats, the divergence of the lens from the model's
actual prediction. Only residual-stream hooks are cached, and logits are reduced to these
statistics one boundary at a time, so memory stays at one boundary's logits.

A tuned lens (Belrose et al. 2023) adds a learned affine translator per boundary before the
same readout: `mechscope.tuned_lens`.

Encoders without a language-model head (the bundled MiniLM is a sentence embedder) have no
unembedding to read through; the lens refuses them rather than read through random weights.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import einops
import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from mechscope.core.axes import Residual
from mechscope.core.batch import TokenBatch, last_real_positions
from mechscope.core.errors import MechscopeError, PromptError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Component, Site
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Decoder, Model
from mechscope.models.run import boundary_labels, readout
from mechscope.models.tokens import as_token_batch, forward_kwargs, target_ids

Translator = Callable[[int, Residual], Residual]
"""Maps (boundary, residual) to a translated residual: the tuned lens (None: logit lens)."""


def boundary_hooks(n_layers: int) -> list[str]:
    """Hook names of the residual stream at every layer boundary."""
    pre0 = Site(Component.RESID_PRE, 0).hook_name
    return [pre0] + [Site(Component.RESID_POST, layer).hook_name for layer in range(n_layers)]


def check_lens_model(model: Model) -> Decoder:
    """The model, if it has an unembedding to read through.

    Raises:
        MechscopeError: an encoder (no causal LM head to read through).
    """
    return adapt(model).decoder(
        "the logit lens (it reads the residual stream through a language-model unembedding)"
    )


class LensStat(Enum):
    """A per-boundary statistic of a `Trajectory`."""

    LOG_PROB = "log_prob"
    """Log-probability of the target (nats)."""
    RANK = "rank"
    """Rank of the target, 1 = top."""
    ENTROPY = "entropy"
    """Entropy of the lens distribution (nats)."""
    KL_TO_FINAL = "kl_to_final"
    """KL(final || lens), nats."""


@dataclass(frozen=True)
class Trajectory(Result):
    """How the prediction forms, per boundary, prompt and position."""

    kind: ClassVar[str] = "trajectory"
    labels: list[str]
    """One label per layer boundary."""
    tokens: Int[Tensor, "batch pos"]
    attention_mask: Int[Tensor, "batch pos"]
    targets: Int[Tensor, "batch pos"]
    """The token each position is scored on: the next token, or the given target."""
    log_prob: Float[Tensor, "boundary batch pos"]
    """Log-probability of the target at each boundary."""
    rank: Int[Tensor, "boundary batch pos"]
    """Rank of the target (1 = top) at each boundary."""
    entropy: Float[Tensor, "boundary batch pos"]
    """Entropy of the lens distribution (nats)."""
    kl_to_final: Float[Tensor, "boundary batch pos"]
    """KL(final distribution || lens distribution), nats; 0 at the last boundary."""
    top_k_ids: Int[Tensor, "boundary batch pos k"]
    top_k_log_probs: Float[Tensor, "boundary batch pos k"]

    def _summary(self) -> dict[str, Any]:
        return {"mean_kl_to_final": self.mean_over_positions(LensStat.KL_TO_FINAL)}

    def _validate(self) -> None:
        n = len(self.labels)
        shape = (n, *self.tokens.shape)
        for name in ("log_prob", "rank", "entropy", "kl_to_final"):
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(
                    f"{name} has shape {tuple(getattr(self, name).shape)}, want {shape}"
                )
        if tuple(self.top_k_ids.shape[:3]) != shape:
            raise ValueError("top_k_ids does not match the boundaries, prompts and positions")

    def select(self, prompts: slice = slice(None), positions: slice = slice(None)) -> "Trajectory":
        """The trajectory of some prompts and positions (every boundary kept)."""
        per_prompt = ("tokens", "attention_mask", "targets")
        per_boundary = ("log_prob", "rank", "entropy", "kl_to_final", "top_k_ids")
        fields = {name: getattr(self, name)[prompts, positions] for name in per_prompt}
        for name in (*per_boundary, "top_k_log_probs"):
            fields[name] = getattr(self, name)[:, prompts, positions]
        return Trajectory(labels=self.labels, **fields)

    def prompt(self, index: int) -> "Trajectory":
        """The trajectory of one prompt (as a batch of one)."""
        return self.select(prompts=slice(index, index + 1))

    def values(self, stat: LensStat | str) -> Shaped[Tensor, "boundary batch pos"]:
        """The per-boundary values of ``stat``."""
        match LensStat(stat):
            case LensStat.LOG_PROB:
                return self.log_prob
            case LensStat.RANK:
                return self.rank
            case LensStat.ENTROPY:
                return self.entropy
            case LensStat.KL_TO_FINAL:
                return self.kl_to_final

    def mean_over_positions(self, stat: LensStat | str) -> list[float]:
        """Per boundary, the mean of ``stat`` over every real position of every prompt."""
        values = self.values(stat).float()
        weight = self.attention_mask.to(values.dtype)
        total = einops.einsum(values, weight, "l b p, b p -> l")
        return (total / weight.sum()).tolist()

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per (boundary, prompt, real position)."""
        import pandas as pd

        rows = []
        for b, p in self.attention_mask.nonzero().tolist():
            for layer, label in enumerate(self.labels):
                rows.append(
                    {
                        "boundary": layer,
                        "label": label,
                        "prompt": b,
                        "pos": p,
                        "target": int(self.targets[b, p]),
                        "log_prob": float(self.log_prob[layer, b, p]),
                        "rank": int(self.rank[layer, b, p]),
                        "entropy": float(self.entropy[layer, b, p]),
                        "kl_to_final": float(self.kl_to_final[layer, b, p]),
                    }
                )
        return pd.DataFrame(rows)


def check_finite(
    log_prob: Float[Tensor, "boundary batch pos"], batch: TokenBatch, labels: list[str]
) -> None:
    """Raise `MechscopeError` where a real position's log-probability is NaN or infinite.

    Names the first boundary (in the order of the stream) where it happens: the activations
    stop being finite there (float16 overflow, or weights broken after loading).
    """
    real = batch.attention_mask.bool().to(log_prob.device)
    bad = ~torch.isfinite(log_prob) & real[None]
    if bool(bad.any()):
        boundary, prompt, position = (int(i) for i in bad.nonzero()[0])
        raise MechscopeError(
            f"the lens read {int(bad.sum())} NaN or infinite log-probabilities; the first at "
            f"{labels[boundary]} (prompt {prompt}, position {position}), where the stream stops "
            "being finite. Load the model in float32 (float16 overflows) and check its weights."
        )


def default_targets(
    model: Decoder, batch: TokenBatch, final: Float[Tensor, "batch pos d_model"]
) -> Int[Tensor, "batch pos"]:
    """The next token at each position, the final model's top token where there is none.

    "None" is each prompt's last real position, whichever side the padding is on.
    """
    real = batch.attention_mask.bool()
    rows = torch.arange(real.shape[0], device=real.device)
    last = last_real_positions(real)
    top = _log_probs(model, final[rows, last][None, :, None])[0, :, 0].argmax(-1)
    targets = torch.cat([batch.tokens[:, 1:], batch.tokens[:, -1:]], dim=1).clone()
    targets[rows, last] = top
    return targets


@torch.no_grad()
def lens_trajectory(
    model: Model,
    batch: TokenBatch,
    targets: Int[Tensor, "batch pos"] | None = None,
    *,
    k: int = 5,
    translator: Translator | None = None,
    last_only: bool = False,
) -> Trajectory:
    """The (logit or tuned) lens at every boundary for every position of ``batch``.

    Args:
        model: a decoder with an unembedding.
        batch: the prompts.
        targets: the token scored at each position; default the next token (each prompt's
            last real position, which has none, is scored on its own argmax under the final
            model).
        k: how many top tokens to keep per boundary and position.
        translator: a tuned lens; None for the logit lens.
        last_only: read only each prompt's last real position (where a prompt's answer is
            read): the trajectory then has one position per prompt, and the readout, the
            lens's main cost, is done for that position alone.
    """
    model = check_lens_model(model)
    if (check := getattr(translator, "check_fits", None)) is not None:
        check(model)  # a tuned lens of another model's shape is refused before any work
    if not 1 <= k <= model.cfg.d_vocab:
        raise MechscopeError(
            f"k (top tokens kept) must be 1 to the vocabulary size {model.cfg.d_vocab}; got {k}."
        )
    names = boundary_hooks(model.cfg.n_layers)
    _, cache = model.run_with_cache(
        batch.tokens, names_filter=names, return_type=None, **forward_kwargs(model, batch)
    )
    resid = torch.stack([cache[name] for name in names])  # boundary batch pos d_model
    del cache
    if translator is not None:
        translated = [translator(b, resid[b]) for b in range(model.cfg.n_layers)]
        resid = torch.stack([*translated, resid[-1]])
    if targets is None:
        targets = default_targets(model, batch, resid[-1])
    if last_only:
        rows = torch.arange(batch.tokens.shape[0], device=batch.tokens.device)
        last = last_real_positions(batch.attention_mask.bool())
        resid, targets = resid[:, rows, last, None], targets[rows, last, None]
        batch = TokenBatch.full(batch.tokens[rows, last, None])
    stats = _chunked_statistics(model, resid, targets, k)
    check_finite(stats["log_prob"], batch, list(boundary_labels(model.cfg.n_layers)))
    return Trajectory(
        labels=list(boundary_labels(model.cfg.n_layers)),
        tokens=batch.tokens,
        attention_mask=batch.attention_mask,
        targets=targets,
        log_prob=stats["log_prob"],
        rank=stats["rank"],
        entropy=stats["entropy"],
        kl_to_final=stats["kl_to_final"],
        top_k_ids=stats["top_k_ids"],
        top_k_log_probs=stats["top_k_log_probs"],
        provenance=Provenance(
            config={
                "k": k,
                "lens": "logit" if translator is None else "tuned",
                "last_only": last_only,
            },  # fmt: skip
            model=model_spec(model),
        ),
    )


CHUNK_FRACTION = 4
"""A block of log-probs holds at most 1/CHUNK_FRACTION of the batch's logits (but at least
MIN_BLOCK_ELEMENTS, or one prompt's positions at one boundary), so the lens peaks near one
forward pass with logits."""
MIN_BLOCK_ELEMENTS = 2**23
"""32 MB of float32: smaller blocks make the unembedding's matrix products slow."""


def _chunked_statistics(
    model: Decoder,
    resid: Float[Tensor, "boundary batch pos d_model"],
    targets: Int[Tensor, "batch pos"],
    k: int,
) -> dict[str, Tensor]:
    """`_statistics` over blocks of prompts and boundaries, concatenated.

    A block is ``[boundaries, rows, pos, d_vocab]`` with at most a quarter of the batch's
    logits in it, or 32 MB (``rows`` prompts, then as many boundaries as fit); the final
    boundary's probabilities (for the KL) are computed once per block of prompts.
    """
    n_boundaries, n_batch, n_pos = resid.shape[:3]
    per_row = n_pos * model.cfg.d_vocab
    budget = max(per_row, n_batch * per_row // CHUNK_FRACTION, MIN_BLOCK_ELEMENTS)
    rows = max(1, min(n_batch, budget // per_row))
    group = max(1, min(n_boundaries, budget // (rows * per_row)))
    by_rows = []
    for i in range(0, n_batch, rows):
        chunk, chunk_targets = resid[:, i : i + rows], targets[i : i + rows]
        final_log_probs = _log_probs(model, chunk[-1:])[0]
        final_probs = final_log_probs.exp()
        final = (final_probs, einops.einsum(final_probs, final_log_probs, "b p v, b p v -> b p"))
        del final_log_probs
        parts = [
            _statistics(model, chunk[b : b + group], chunk_targets, k, final)
            for b in range(0, n_boundaries, group)
        ]
        by_rows.append({key: torch.cat([p[key] for p in parts], dim=0) for key in parts[0]})
    return {key: torch.cat([part[key] for part in by_rows], dim=1) for key in by_rows[0]}


def _log_probs(
    model: Decoder, resid: Float[Tensor, "boundary batch pos d_model"]
) -> Float[Tensor, "boundary batch pos d_vocab"]:
    """Log-probs of the readout (final LayerNorm recomputed for each residual)."""
    return readout(model, resid).log_softmax(-1)


def _statistics(
    model: Decoder,
    resid: Float[Tensor, "boundary batch pos d_model"],
    targets: Int[Tensor, "batch pos"],
    k: int,
    final: tuple[Float[Tensor, "batch pos d_vocab"], Float[Tensor, "batch pos"]],
) -> dict[str, Tensor]:
    """Every per-boundary statistic of a block of boundaries and prompts.

    Few passes over d_vocab; ``final``: the output distribution of the same prompts and its
    negative entropy (for the KL).
    """
    final_probs, final_neg_entropy = final
    log_probs = _log_probs(model, resid)
    n_boundaries = log_probs.shape[0]
    index = einops.repeat(targets, "b p -> l b p 1", l=n_boundaries)
    target_lp = log_probs.gather(-1, index)
    neg_entropy = einops.einsum(log_probs.exp(), log_probs, "l b p v, l b p v -> l b p")
    cross = einops.einsum(final_probs, log_probs, "b p v, l b p v -> l b p")
    top = log_probs.topk(k, dim=-1)
    return {
        "log_prob": target_lp[..., 0],
        "rank": (log_probs > target_lp).sum(-1) + 1,
        "entropy": -neg_entropy,
        "kl_to_final": (final_neg_entropy[None] - cross).clamp(min=0),
        "top_k_ids": top.indices,
        "top_k_log_probs": top.values,
    }


def logit_lens(
    model: Model,
    prompts: str | Sequence[str] | TokenBatch | Tensor,
    targets: Sequence[str] | None = None,
    *,
    k: int = 5,
) -> Trajectory:
    """The logit lens of prompts (text or a TokenBatch).

    ``targets``: one single-token string per prompt, scored at every position of that prompt;
    default: the actual next token at each position.
    """
    model = check_lens_model(model)
    batch = as_token_batch(model, prompts)
    target_tensor = None
    if targets is not None:
        ids = target_ids(model, targets)
        if len(ids) != batch.tokens.shape[0]:
            raise PromptError(
                f"{len(ids)} targets for {batch.tokens.shape[0]} prompts; give one each."
            )
        target_tensor = torch.tensor(ids, device=batch.tokens.device)[:, None].expand_as(
            batch.tokens
        )
    return lens_trajectory(model, batch, target_tensor, k=k)
