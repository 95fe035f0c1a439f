"""Semantic aggregation heads: heads whose every token attends to a few meaningful words.

For a set of *target* words in each sentence (the sentiment-bearing words of a polarity
lexicon, the words of entity mentions), every head's attention *mass* on target tokens is
averaged over all real query tokens of all sentences (every token, the targets included).
Its *share* is the mass a head that attends uniformly to every key it can see would put there:
per query, the fraction of its visible keys that are targets (an encoder sees the whole
sentence, a decoder the tokens up to the query). *Enrichment* = mass / share: 1 is no
preference; a head with enrichment 3 puts three times its uniform share on the targets.

Special tokens (BOS, [CLS], [SEP]) are keys like any other (they are where heads rest, so
they lower every head's mass alike) but never targets and never queries. Sentences whose
words do not align with the model's tokens are skipped and counted.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.hook_points import HookPoint

from mechscope.core.axes import HeadId
from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Result
from mechscope.core.sites import Component, Site
from mechscope.models.adapter import adapt
from mechscope.models.base import Model
from mechscope.models.tokens import forward_kwargs, pad_id
from mechscope.models.words import align_words


@dataclass(frozen=True)
class AggregationScores(Result):
    """Each head's attention mass on each target set, against the uniform share."""

    kind: ClassVar[str] = "aggregation-scores"
    targets: tuple[str, ...]
    """The target sets' names (``sentiment``, ``entity``...)."""
    mass: Float[Tensor, "target layer head"]
    """Mean attention mass on the target tokens, over every real query token."""
    share: Float[Tensor, " target"]
    """The mass uniform attention over the visible keys would give."""
    sentences: tuple[int, ...]
    """Sentences scored per target set."""
    queries: tuple[int, ...]
    """Query tokens averaged over per target set."""
    skipped: dict[str, int] = field(default_factory=dict)

    def enrichment(self, target: str) -> Float[Tensor, "layer head"]:
        """Mass / share for one target set (1 = no preference)."""
        i = self._index(target)
        return self.mass[i] / self.share[i]

    def _index(self, target: str) -> int:
        if target not in self.targets:
            raise MechscopeError(f"no target set {target!r}; scored: {', '.join(self.targets)}.")
        return self.targets.index(target)

    def top(self, target: str, k: int = 5) -> list[tuple[HeadId, float]]:
        """The ``k`` heads of highest enrichment on ``target``."""
        values = self.enrichment(target)
        order = values.flatten().argsort(descending=True)[:k].tolist()
        return [(HeadId(*divmod(i, values.shape[1])), float(values.flatten()[i])) for i in order]

    def by_layer(self, target: str) -> Float[Tensor, " layer"]:
        """The highest enrichment among each layer's heads."""
        return self.enrichment(target).amax(-1)

    def table(self) -> list[dict[str, Any]]:
        """One row per target set and head: mass, share and enrichment."""
        rows = []
        for i, target in enumerate(self.targets):
            enrichment = self.enrichment(target)
            for layer in range(self.mass.shape[1]):
                for head in range(self.mass.shape[2]):
                    rows.append({"target": target, "head": str(HeadId(layer, head)),
                                 "mass": float(self.mass[i, layer, head]),
                                 "share": float(self.share[i]),
                                 "enrichment": float(enrichment[layer, head])})  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`table` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def _summary(self) -> dict[str, Any]:
        return {t: {"share": float(self.share[i]), "best": [(str(h), v) for h, v in self.top(t, 3)]}
                for i, t in enumerate(self.targets)}  # fmt: skip


def _one_set(
    model: Model,
    sentences: Sequence[tuple[Sequence[str], Sequence[bool]]],
    batch_size: int,
    progress: bool,
    desc: str,
) -> tuple[Tensor, float, int, int, Counter[str]]:
    """Mass [layer, head] summed over queries, share summed, queries, sentences, skipped."""
    causal = adapt(model).causal
    rows, skipped = [], Counter[str]()
    for words, is_target in sentences:
        if len(words) != len(is_target):
            raise MechscopeError("each sentence needs one target flag per word.")
        aligned = align_words(model, list(words))
        if isinstance(aligned, str):
            skipped[aligned] += 1
            continue
        target = [w >= 0 and bool(is_target[w]) for w in aligned.word_of_token]
        real = [w >= 0 for w in aligned.word_of_token]
        rows.append((aligned.tokens, target, real))
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    mass = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    share, n_queries = 0.0, 0
    device = model.cfg.device or "cpu"
    for start in tqdm(range(0, len(rows), batch_size), desc=desc, disable=not progress,
                      leave=False):  # fmt: skip
        chunk = rows[start : start + batch_size]
        batch = pad_token_lists([list(r[0]) for r in chunk], pad_id(model)).to(device)
        n_pos = batch.tokens.shape[1]
        target = torch.zeros(len(chunk), n_pos)
        query = torch.zeros(len(chunk), n_pos)
        for b, (_, t, r) in enumerate(chunk):
            target[b, : len(t)] = torch.tensor(t, dtype=torch.float)
            query[b, : len(r)] = torch.tensor(r, dtype=torch.float)
        on_target = torch.zeros(n_layers, n_heads, dtype=torch.float64)

        def keep(pattern: Tensor, hook: HookPoint, sums: Tensor = on_target,
                 target: Tensor = target, query: Tensor = query) -> None:  # fmt: skip
            # [batch, head, query, key] . target[key], summed over real queries
            on = torch.einsum("bhqk,bk,bq->h", pattern.detach().float().cpu(), target, query)
            sums[int(hook.layer())] = on.double()

        hooks = [(Site(Component.PATTERN, layer).hook_name, keep) for layer in range(n_layers)]
        with torch.no_grad(), model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
            model(batch.tokens, return_type=None, **forward_kwargs(model, batch))
        mass += on_target
        visible = batch.attention_mask.float().cpu()
        if causal:  # keys up to the query: running counts
            targets_seen = (target * visible).cumsum(1)
            keys_seen = visible.cumsum(1).clamp(min=1)
        else:
            targets_seen = (target * visible).sum(1, keepdim=True).expand(-1, n_pos)
            keys_seen = visible.sum(1, keepdim=True).expand(-1, n_pos)
        share += float((targets_seen / keys_seen * query).sum())
        n_queries += int(query.sum())
    return mass, share, n_queries, len(rows), skipped


def aggregation_scores(
    model: Model,
    targets: dict[str, Sequence[tuple[Sequence[str], Sequence[bool]]]],
    *,
    batch_size: int = 16,
    progress: bool = True,
) -> AggregationScores:
    """Every head's attention mass on each target set (module docstring).

    Args:
        model: the model.
        targets: per target set's name, its sentences as ``(words, is_target)``, one flag per
            word (e.g. from `sentiment_targets` and `entity_targets`).
        batch_size: sentences per forward pass.
        progress: show a progress bar.

    Raises:
        MechscopeError: no target set, flags that do not match the words, or a set with no
            usable sentence or no target word.
    """
    if not targets:
        raise MechscopeError("no target sets given; e.g. {'sentiment': sentiment_targets(...)}.")
    masses, shares, n_sentences, n_queries = [], [], [], []
    skipped: Counter[str] = Counter()
    for name, sentences in targets.items():
        mass, share, queries, used, why = _one_set(model, sentences, batch_size, progress, name)
        if not queries or share == 0:
            raise MechscopeError(
                f"target set {name!r} has no usable sentence with a target word "
                f"({sum(why.values())} skipped); give sentences the model can read."
            )
        masses.append((mass / queries).float())
        shares.append(share / queries)
        n_sentences.append(used)
        n_queries.append(queries)
        skipped.update({f"{name}: {reason}": n for reason, n in why.items()})
    return AggregationScores(tuple(targets), torch.stack(masses), torch.tensor(shares),
                             tuple(n_sentences), tuple(n_queries), dict(skipped))  # fmt: skip


def sentiment_targets(
    sentences: Sequence[Sequence[str]], lexicon: dict[str, str]
) -> list[tuple[Sequence[str], list[bool]]]:
    """Each sentence with its words in ``lexicon`` (case-folded) flagged."""
    return [(words, [w.casefold() in lexicon for w in words]) for words in sentences]


def entity_targets(sentences: Sequence[Any]) -> list[tuple[Sequence[str], list[bool]]]:
    """Each annotated sentence (`mechscope.data.conllu.Sentence`) with its mention words flagged.

    Sentences without entity annotation are left out.
    """
    return [(s.words, [e is not None for e in s.entities]) for s in sentences if s.entities]
