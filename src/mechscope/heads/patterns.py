"""Attention patterns of a batch, read with only the pattern hooks cached.

Conventions: patterns are ``[batch, layer, head, dest_pos, src_pos]`` and each row (a
destination) sums to 1 over real source tokens. Padding rows and columns are zeroed, so
means over prompts can weight by the mask without special cases.

`sentence_attention` keeps one sentence's patterns with its tokens as a result (what
``mechscope demo`` shows): the attention the first token ([CLS]/BOS), the last token
([SEP]/EOS) and punctuation receive per layer, the quantities of Clark et al. 2019 ("What
Does BERT Look At?", Fig. 2).
"""

import string
from dataclasses import dataclass, field
from typing import ClassVar

import einops
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from mechscope.core.axes import Patterns
from mechscope.core.results import Provenance, Result
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import attention_patterns
from mechscope.models.tokens import as_token_batch, str_tokens, tokenize


def attention_mass(
    patterns: Patterns,
    targets: Bool[Tensor, "batch src_pos"],
    attention_mask: Bool[Tensor, "batch pos"],
) -> Float[Tensor, "layer head"]:
    """Mean attention, per head, that real destination tokens put on the ``targets`` sources.

    Averaged over every real destination token of every prompt (Clark et al. 2019, Fig. 2).
    """
    on_target = einops.einsum(patterns, targets.to(patterns.dtype), "b l h d s, b s -> b l h d")
    weights = attention_mask.to(patterns.dtype)
    total = einops.einsum(on_target, weights, "b l h d, b d -> l h")
    return total / weights.sum()


PUNCTUATION = set(string.punctuation)


@dataclass(frozen=True)
class SentenceAttention(Result):
    """The attention patterns of one sentence, with its tokens."""

    kind: ClassVar[str] = "sentence-attention"
    str_tokens: list[str]
    """The sentence's tokens as strings, special tokens included."""
    patterns: Float[Tensor, "layer head dest_pos src_pos"]
    """Attention from each destination token to each source token."""
    causal: bool
    """Whether the model is a decoder (patterns are lower-triangular)."""
    targets: dict[str, list[bool]] = field(init=False)
    """Named sets of source tokens whose received attention `mass_by_layer` reports."""

    def _validate(self) -> None:
        n = len(self.str_tokens)
        if self.patterns.ndim != 4 or self.patterns.shape[-2:] != (n, n):
            raise ValueError(f"patterns {tuple(self.patterns.shape)} do not match {n} tokens")
        targets = {
            f"first {self.str_tokens[0]}": [i == 0 for i in range(n)],
            f"last {self.str_tokens[-1]}": [i == n - 1 for i in range(n)],
            "punctuation": [t.strip() in PUNCTUATION and t.strip() != "" for t in self.str_tokens],
        }
        object.__setattr__(self, "targets", targets)

    def mass_by_layer(self) -> dict[str, list[float]]:
        """Per target set, the attention it receives at each layer (mean over heads, tokens)."""
        mask = torch.ones(1, len(self.str_tokens), dtype=torch.bool)
        out = {}
        for name, chosen in self.targets.items():
            per_head = attention_mass(self.patterns[None], torch.tensor([chosen]), mask)
            out[name] = per_head.mean(dim=-1).tolist()
        return out

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per layer: the attention each target set receives."""
        import pandas as pd

        mass = self.mass_by_layer()
        return pd.DataFrame(
            [
                {"layer": layer, **{name: values[layer] for name, values in mass.items()}}
                for layer in range(self.patterns.shape[0])
            ]
        )


def sentence_attention(model: Model, sentence: str) -> SentenceAttention:
    """Every head's attention on one sentence."""
    batch = tokenize(model, sentence)
    return SentenceAttention(
        str_tokens(model, batch.tokens[0].tolist()),
        attention_patterns(model, batch)[0],
        causal=adapt(model).causal,
        provenance=Provenance(config={"sentence": sentence}, model=model_spec(model)),
    )


@dataclass(frozen=True)
class QueryKey(Result):
    """One head's queries and keys on one sentence: what its attention scores are made of.

    ``scores[d, s] = q[d] . k[s] / scale``; the pattern is their softmax over the sources
    each destination sees (BertViz's neuron view; Vig 2019). Rotary models give the rotated
    queries and keys, grouped-query models the key head this head shares.
    """

    kind: ClassVar[str] = "query-key"
    str_tokens: list[str]
    layer: int
    head: int
    q: Float[Tensor, "pos d_head"]
    k: Float[Tensor, "pos d_head"]
    scale: float
    pattern: Float[Tensor, "dest_pos src_pos"]
    """The model's own pattern (a check on the reconstruction: `scores`)."""
    causal: bool

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per (query, key) token pair: score and weight."""
        import pandas as pd

        scores = self.scores()
        return pd.DataFrame([
            {"query": d, "query_token": self.str_tokens[d], "key": s,
             "key_token": self.str_tokens[s], "score": float(scores[d, s]),
             "weight": float(self.pattern[d, s])}
            for d in range(len(self.str_tokens)) for s in range(len(self.str_tokens))
        ])  # fmt: skip

    def scores(self) -> Float[Tensor, "dest_pos src_pos"]:
        """Attention scores from the queries and keys, masked (-inf) where a decoder cannot see."""
        scores = self.q @ self.k.T / self.scale
        if self.causal:
            n = scores.shape[0]
            upper = torch.ones(n, n, dtype=torch.bool).triu(1)
            scores = scores.masked_fill(upper, float("-inf"))
        return scores


def query_key(model: Model, sentence: "str | Tensor", layer: int, head: int) -> QueryKey:
    """The queries, keys and pattern of head ``layer.head`` on ``sentence`` (text or ids).

    Raises:
        MechscopeError: a head out of range, or a prompt the tokenizer refuses.
    """
    from mechscope.core.errors import MechscopeError
    from mechscope.core.sites import Component, Site

    cfg = model.cfg
    if not (0 <= layer < cfg.n_layers and 0 <= head < cfg.n_heads):
        raise MechscopeError(
            f"head {layer}.{head} is outside the model's {cfg.n_layers} x {cfg.n_heads} heads."
        )
    batch = as_token_batch(model, sentence)
    if batch.tokens.shape[0] != 1:
        raise MechscopeError("the neuron view reads one sentence; give one prompt.")
    rotary = getattr(cfg, "positional_embedding_type", "") == "rotary"
    q_site = Site(Component.ROT_Q if rotary else Component.Q, layer).hook_name
    k_site = Site(Component.ROT_K if rotary else Component.K, layer).hook_name
    pattern_site = Site(Component.PATTERN, layer).hook_name
    with torch.no_grad():
        _, cache = model.run_with_cache(
            batch.tokens, names_filter=[q_site, k_site, pattern_site], return_type=None,
            **adapt(model).forward_kwargs(batch),  # pyright: ignore[reportArgumentType]
        )  # fmt: skip
    if q_site not in cache or k_site not in cache:
        raise MechscopeError(
            f"{q_site} never fired: TransformerLens's Bridge of this architecture hooks no "
            "rotated queries and keys; load the model with the hooked backend for this view."
        )
    n_kv = getattr(cfg, "n_key_value_heads", None) or cfg.n_heads
    kv_head = head // (cfg.n_heads // n_kv)
    scale = float(cfg.attn_scale) if getattr(cfg, "use_attn_scale", True) else 1.0
    return QueryKey(
        str_tokens(model, batch.tokens[0].tolist()), layer, head,
        cache[q_site][0, :, head].float().cpu(), cache[k_site][0, :, kv_head].float().cpu(),
        scale, cache[pattern_site][0, head].float().cpu(), adapt(model).causal,
        provenance=Provenance(config={"sentence": sentence if isinstance(sentence, str) else "",
                                      "layer": layer, "head": head},
                              model=model_spec(model)),
    )  # fmt: skip
