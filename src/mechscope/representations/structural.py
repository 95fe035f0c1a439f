"""The structural probe (Hewitt & Manning 2019, "A Structural Probe for Finding Syntax").

Distance probe: a rank-``k`` matrix ``B`` such that ``|B (h_i - h_j)|^2`` approximates the
number of tree edges between words ``i`` and ``j``; loss ``sum_ij |d_T(i, j) - d_B(i, j)^2|``
divided by the sentence length squared, averaged over sentences. Depth probe: ``|B h_i|^2``
approximates the word's depth; loss ``sum_i |depth_i - |B h_i|^2|`` over the length. Both fitted
by Adam on batches of sentences, on raw hidden states as in the paper. ``standardize=True``
z-scores each feature with the train split's statistics first: decoders such as SmolLM2
carry a few features about 500x larger than the rest from the middle layers on (99 % of the
variance in 3 of 576). Measured on 1,000 train / 300 dev sentences, standardising raised
SmolLM2's UUAS at layer 12 from 0.15 to 0.31 but lowered MiniLM's at layer 3 from 0.60 to
0.54, so the paper's raw setting stays the default.

Evaluation, as in the paper:
- UUAS: the minimum spanning tree of the predicted distances over the non-punctuation words
  (UPOS ``PUNCT`` left out) against the gold edges between non-punctuation words, pooled over
  the corpus;
- DSpr.: the Spearman correlation of each word's predicted and gold distances to the other
  words, averaged per sentence length over lengths 5-50, then over lengths;
- root accuracy: the non-punctuation word of least predicted depth is the gold root;
- NSpr.: the Spearman correlation of predicted and gold depths, averaged the same way.
Baselines: the same probes on the embeddings (boundary 0) and on a random-init model of the
same shape, and the right-branching chain (each non-punctuation word linked to the next).
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from jaxtyping import Float
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.stats import rankdata
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.data.conllu import Sentence
from mechscope.representations.activations import Activations
from mechscope.representations.choices import boundary_numbers
from mechscope.representations.tasks import depths

SPEARMAN_LENGTHS = (5, 50)
METRICS = ("uuas", "dspr", "root_accuracy", "nspr")


def tree_distances(sentence: Sentence) -> np.ndarray:
    """Edges between every pair of words in the dependency tree (``n x n``)."""
    n = len(sentence.words)
    ancestors = np.zeros((n, n), dtype=np.int64)  # ancestor-or-self
    for word in range(n):
        node = word
        while node >= 0:
            ancestors[word, node] = 1
            node = sentence.heads[node]
    depth = ancestors.sum(1) - 1
    common = ancestors @ ancestors.T  # ancestors shared = depth of the lowest common one + 1
    return depth[:, None] + depth[None, :] - 2 * (common - 1)


def _spans(activations: Activations) -> list[tuple[int, int]]:
    """Each sentence's unit range ``[start, end)`` (units must be the sentences' words)."""
    lengths = [len(s.words) for s in activations.sentences]
    if sum(lengths) != len(activations.units):
        raise MechscopeError(
            "the structural probe needs word units: collect with a word pooling (word-mean)."
        )
    ends = np.cumsum(lengths)
    return list(zip((ends - lengths).tolist(), ends.tolist(), strict=True))


def _fit(
    hidden: Float[Tensor, "unit d"],
    spans: Sequence[tuple[int, int]],
    targets: Sequence[Tensor],
    *,
    distance: bool,
    rank: int,
    epochs: int,
    batch: int,
    lr: float,
    seed: int,
) -> Tensor:
    """``B`` (``rank x d``) fitted to tree distances (``distance``) or depths.

    Each minibatch of sentences is padded to its longest; padded pairs are masked out.
    """
    generator = torch.Generator().manual_seed(seed)
    b = torch.nn.Parameter(torch.randn(rank, hidden.shape[1], generator=generator) * 0.01)
    optimiser = torch.optim.Adam([b], lr=lr)
    starts = torch.tensor([start for start, _ in spans])
    lengths = torch.tensor([end - start for start, end in spans])
    for _ in range(epochs):
        for chunk in torch.randperm(len(spans), generator=generator).split(batch):
            n = lengths[chunk]
            width = int(n.max())
            offsets = torch.arange(width)
            real = offsets[None] < n[:, None]  # [sentence, word]
            index = (starts[chunk][:, None] + offsets[None]).masked_fill(~real, 0)
            projected = hidden[index] @ b.T  # sentence word rank
            target = torch.zeros((len(chunk), width, width) if distance else (len(chunk), width))
            for row, s in enumerate(chunk.tolist()):
                k = int(n[row])
                if distance:
                    target[row, :k, :k] = targets[s]
                else:
                    target[row, :k] = targets[s]
            if distance:  # |p_i - p_j|^2 = |p_i|^2 + |p_j|^2 - 2 p_i . p_j
                norms = projected.square().sum(-1)
                gram = projected @ projected.mT
                predicted = norms[:, :, None] + norms[:, None, :] - 2 * gram
                mask = real[:, :, None] & real[:, None, :]
                per_sentence = ((predicted - target).abs() * mask).sum((1, 2)) / n.float() ** 2
            else:
                predicted = projected.square().sum(-1)
                per_sentence = ((predicted - target).abs() * real).sum(1) / n.float()
            optimiser.zero_grad()
            per_sentence.mean().backward()
            optimiser.step()
    return b.detach()


def non_punctuation(sentence: Sentence) -> list[int]:
    """The words scored by UUAS and root accuracy: all but UPOS ``PUNCT`` (all without UPOS)."""
    if not sentence.upos:
        return list(range(len(sentence.words)))
    return [i for i, tag in enumerate(sentence.upos) if tag != "PUNCT"]


def gold_edges_between(sentence: Sentence, words: Sequence[int]) -> set[frozenset[int]]:
    """The gold dependency edges (undirected) whose both ends are among ``words``."""
    kept = set(words)
    return {frozenset((i, h)) for i, h in enumerate(sentence.heads)
            if h >= 0 and i in kept and h in kept}  # fmt: skip


def _spearman_rows(predicted: np.ndarray, gold: np.ndarray) -> float:
    """Mean over rows of the Spearman correlation of ``predicted`` and ``gold`` rows."""
    rp, rg = rankdata(predicted, axis=-1), rankdata(gold, axis=-1)
    rp = rp - rp.mean(-1, keepdims=True)
    rg = rg - rg.mean(-1, keepdims=True)
    denominator = np.sqrt((rp**2).sum(-1) * (rg**2).sum(-1))
    valid = denominator > 0
    return (
        float(((rp * rg).sum(-1)[valid] / denominator[valid]).mean()) if valid.any() else math.nan
    )


def _by_length(values: dict[int, list[float]]) -> float:
    low, high = SPEARMAN_LENGTHS
    means = [float(np.mean(v)) for n, v in values.items() if low <= n <= high and v]
    return float(np.mean(means)) if means else math.nan


def _evaluate(
    b_distance: Tensor, b_depth: Tensor, hidden: Tensor, activations: Activations
) -> dict[str, float]:
    correct = total = roots = n_root = 0
    dspr: dict[int, list[float]] = defaultdict(list)
    nspr: dict[int, list[float]] = defaultdict(list)
    for (start, end), sentence in zip(_spans(activations), activations.sentences, strict=True):
        n = end - start
        with torch.no_grad():
            pd = (hidden[start:end] @ b_distance.T).double()
            predicted = (pd[:, None] - pd[None, :]).square().sum(-1).numpy()
            depth = (hidden[start:end] @ b_depth.T).double().square().sum(-1).numpy()
        gold = tree_distances(sentence)
        gold_depth = np.array(depths(sentence))
        keep = non_punctuation(sentence)
        if len(keep) >= 2:
            sub = predicted[np.ix_(keep, keep)] + 1e-9  # scipy drops zero-weight edges
            tree = minimum_spanning_tree(np.triu(sub, 1)).tocoo()
            edges = {frozenset((keep[i], keep[j])) for i, j in zip(tree.row, tree.col, strict=True)}
            gold_edges = gold_edges_between(sentence, keep)
            correct += len(edges & gold_edges)
            total += len(gold_edges)
        if keep:
            root = int(np.argmin(depth[keep]))
            roots += int(sentence.heads[keep[root]] == -1)
            n_root += 1
        if n >= 2:
            dspr[n].append(_spearman_rows(predicted, gold))
            nspr[n].append(_spearman_rows(depth[None], gold_depth[None]))
    return {"uuas": correct / total if total else math.nan, "dspr": _by_length(dspr),
            "root_accuracy": roots / n_root if n_root else math.nan,
            "nspr": _by_length(nspr)}  # fmt: skip


def right_branching_uuas(sentences: Sequence[Sentence]) -> float:
    """UUAS of linking each non-punctuation word to the next one (the paper's baseline)."""
    correct = total = 0
    for sentence in sentences:
        keep = non_punctuation(sentence)
        gold = gold_edges_between(sentence, keep)
        chain = {frozenset(pair) for pair in zip(keep, keep[1:], strict=False)}
        correct += len(chain & gold)
        total += len(gold)
    return correct / total if total else math.nan


@dataclass(frozen=True)
class StructuralResult(Result):
    """UUAS, DSpr., root accuracy and NSpr. per boundary, with the baselines."""

    kind: ClassVar[str] = "structural-probe"
    boundaries: tuple[str, ...]
    scores: Float[Tensor, "metric boundary"]
    random_init: Float[Tensor, "metric boundary"]
    """The same probes on a random-init model of the same shape (NaN: not given)."""
    right_branching: float
    rank: int
    n_train: int
    n_eval: int
    extra: dict[str, Any] = field(default_factory=dict)

    def _summary(self) -> dict[str, Any]:
        return {"metrics": list(METRICS)}

    def _validate(self) -> None:
        shape = (len(METRICS), len(self.boundaries))
        if self.scores.shape != shape or self.random_init.shape != shape:
            raise ValueError(f"scores must be [metric, boundary] = {shape}")

    def metric(self, name: str) -> Float[Tensor, " boundary"]:
        """One metric (``uuas``, ``dspr``, ``root_accuracy``, ``nspr``) by boundary."""
        return self.scores[METRICS.index(name)]

    def best_index(self, name: str = "uuas") -> int:
        """The position (in ``boundaries``) where ``name`` peaks."""
        return int(self.metric(name).argmax())

    def best_boundary(self, name: str = "uuas") -> int:
        """The layer where ``name`` peaks (0 = embeddings)."""
        return boundary_numbers(self.boundaries)[self.best_index(name)]

    def rows(self) -> list[dict[str, Any]]:
        """Long-form rows (task, layer, metric, value), as the CLI's ``table.csv``."""
        rows = []
        for source, table in (("", self.scores), ("random_init_", self.random_init)):
            for m, name in enumerate(METRICS):
                for i, layer in enumerate(boundary_numbers(self.boundaries)):
                    value = float(table[m, i])
                    if not math.isnan(value):
                        rows.append({"task": "structural", "layer": layer,
                                     "metric": source + name, "value": value})  # fmt: skip
        rows.append({"task": "structural", "layer": -1, "metric": "right_branching_uuas",
                     "value": self.right_branching})  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`rows` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def structural_probe(
    train: Activations,
    eval: Activations,
    *,
    rank: int = 128,
    epochs: int = 5,
    batch: int = 20,
    lr: float = 1e-3,
    seed: int = 0,
    boundaries: Sequence[int] | None = None,
    random_train: Activations | None = None,
    random_eval: Activations | None = None,
    standardize: bool = False,
    progress: bool = True,
) -> StructuralResult:
    """Fit and score the distance and depth probes at every boundary (or those given).

    ``standardize``: z-score each feature with the train split's statistics (module doc).

    Raises:
        MechscopeError: activations that are not words, a bad rank, or a boundary out of range.
    """
    if rank < 1:
        raise MechscopeError(f"the probe rank must be at least 1, got {rank}.")
    train_spans = _spans(train)
    _spans(eval)
    chosen = list(range(train.n_boundaries)) if boundaries is None else list(boundaries)
    for layer in chosen:
        if not 0 <= layer < train.n_boundaries:
            raise MechscopeError(f"layer {layer} is out of range: 0..{train.n_boundaries - 1}.")
    distances = [torch.from_numpy(tree_distances(s)).float() for s in train.sentences]
    depth_targets = [torch.tensor(depths(s), dtype=torch.float32) for s in train.sentences]
    settings = {"rank": rank, "epochs": epochs, "batch": batch, "lr": lr, "seed": seed}

    def measure(source_train: Activations, source_eval: Activations, layer: int) -> list[float]:
        hidden, held_out = source_train.layer(layer), source_eval.layer(layer)
        if standardize:
            mean, std = hidden.mean(0), hidden.std(0).clamp(min=1e-6)
            hidden, held_out = (hidden - mean) / std, (held_out - mean) / std
        b_distance = _fit(hidden, train_spans, distances, distance=True, **settings)
        b_depth = _fit(hidden, train_spans, depth_targets, distance=False, **settings)
        scores = _evaluate(b_distance, b_depth, held_out, source_eval)
        return [scores[m] for m in METRICS]

    scores = torch.full((len(METRICS), len(chosen)), math.nan)
    random = scores.clone()
    for i, layer in enumerate(tqdm(chosen, desc="structural probe", disable=not progress)):
        scores[:, i] = torch.tensor(measure(train, eval, layer))
        if random_train is not None and random_eval is not None:
            random[:, i] = torch.tensor(measure(random_train, random_eval, layer))
    return StructuralResult(
        tuple(train.boundaries[layer] for layer in chosen),
        scores,
        random,
        right_branching_uuas(eval.sentences),
        rank,
        len(train.sentences),
        len(eval.sentences),
        extra={
            "epochs": epochs,
            "lr": lr,
            "batch": batch,
            "seed": seed,
            "standardize": standardize,
        },
        provenance=Provenance(model=train.provenance.model),
    )
