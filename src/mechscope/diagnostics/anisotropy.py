"""Anisotropy of contextual representations (Ethayarajh 2019), and class geometry.

Per boundary, over the real tokens of a batch (a "word" here is a token id):

- baseline: the mean cosine similarity of tokens from different prompts, over every such pair
  (exact, from sums: `AnisotropySums`; Ethayarajh sampled 1,000 pairs): a representation
  space where everything points one way has a baseline near 1;
- self-similarity: for token ids that occur in at least two prompts, the mean cosine between
  their representations in different prompts;
- intra-sentence similarity: the mean cosine between each token and its prompt's mean vector;
- the anisotropy-adjusted versions: each minus the baseline, as Ethayarajh reports them.

`class_geometry` of labelled representations: the mean distance of points to their class
centroid (intra), the mean distance between class centroids (inter), their ratio, and the
effective rank of the centred representations.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.batch import TokenBatch, first_real_positions
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.diagnostics.rank import effective_rank
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_stream


@dataclass(frozen=True)
class Anisotropy(Result):
    """Per boundary: baseline, self-similarity, intra-sentence similarity (raw)."""

    kind: ClassVar[str] = "anisotropy"
    baseline: Float[Tensor, " boundary"]
    self_similarity: Float[Tensor, " boundary"]
    intra_sentence: Float[Tensor, " boundary"]
    n_pairs: int
    """Pairs of tokens from different prompts behind the baseline (all of them)."""
    n_words: int
    """Token ids seen in at least two prompts (behind the self-similarity)."""

    def _summary(self) -> dict[str, Any]:
        return {"adjusted": self.adjusted()}

    def adjusted(self) -> dict[str, list[float]]:
        """Self-similarity and intra-sentence similarity minus the baseline."""
        return {"self_similarity": (self.self_similarity - self.baseline).tolist(),
                "intra_sentence": (self.intra_sentence - self.baseline).tolist()}  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary, raw and adjusted."""
        import pandas as pd

        adjusted = self.adjusted()
        return pd.DataFrame({"baseline": self.baseline.tolist(),
                             "self_similarity": self.self_similarity.tolist(),
                             "intra_sentence": self.intra_sentence.tolist(),
                             "self_similarity_adjusted": adjusted["self_similarity"],
                             "intra_sentence_adjusted": adjusted["intra_sentence"]})  # fmt: skip


@dataclass(frozen=True)
class AnisotropySums:
    """What `Anisotropy` is made of, as sums over prompts: parts of a corpus add up (``+``).

    The cosines of every pair of tokens from different prompts sum to ``|T|^2 - W``, with
    ``T`` the sum of all their unit vectors and ``W`` the sum over prompts of the squared
    norm of each prompt's sum; there are ``N^2 - sum(n_p^2)`` such (ordered) pairs. So per
    boundary (float64): ``total`` (T), ``within`` (W), ``tokens`` (N), ``tokens_sq``
    (sum of n_p^2); per token id (``words``, sorted) the same for that id's occurrences and
    ``word_prompts``, the prompts it occurs in; ``intra``, the sum over prompts of each
    one's intra-sentence similarity, and ``prompts``.
    """

    total: Float[Tensor, "boundary d_model"]
    within: Float[Tensor, " boundary"]
    tokens: int
    tokens_sq: int
    words: Int[Tensor, " word"]
    word_total: Float[Tensor, "boundary word d_model"]
    word_within: Float[Tensor, "boundary word"]
    word_tokens: Int[Tensor, " word"]
    word_tokens_sq: Int[Tensor, " word"]
    word_prompts: Int[Tensor, " word"]
    intra: Float[Tensor, " boundary"]
    prompts: int

    def __add__(self, other: "AnisotropySums") -> "AnisotropySums":
        words, where = torch.cat([self.words, other.words]).unique(return_inverse=True)
        mine, theirs = where[: len(self.words)], where[len(self.words) :]

        def merged(name: str, axis: int) -> Tensor:  # both parts' values by token id
            a, b = getattr(self, name), getattr(other, name)
            shape = list(a.shape)
            shape[axis] = len(words)
            return a.new_zeros(shape).index_add_(axis, mine, a).index_add_(axis, theirs, b)

        return AnisotropySums(
            self.total + other.total, self.within + other.within, self.tokens + other.tokens,
            self.tokens_sq + other.tokens_sq, words, merged("word_total", 1),
            merged("word_within", 1), merged("word_tokens", 0), merged("word_tokens_sq", 0),
            merged("word_prompts", 0),
            self.intra + other.intra, self.prompts + other.prompts,
        )  # fmt: skip

    def result(self, provenance: Provenance | None = None) -> Anisotropy:
        """The `Anisotropy` of every token summed (see the class docstring).

        Raises:
            MechscopeError: no two prompts with real tokens.
        """
        pairs = self.tokens**2 - self.tokens_sq
        if pairs == 0:
            raise MechscopeError("anisotropy needs real tokens from at least two prompts.")
        baseline = (self.total.pow(2).sum(-1) - self.within) / pairs
        shared = self.word_prompts >= 2  # token ids seen in two prompts or more
        n = self.word_tokens[shared].double()
        word_pairs = n**2 - self.word_tokens_sq[shared].double()
        sims = self.word_total[:, shared].pow(2).sum(-1) - self.word_within[:, shared]
        self_similarity = (sims / word_pairs).mean(-1)  # NaN when no id is shared
        return Anisotropy(baseline.float(), self_similarity.float(),
                          (self.intra / self.prompts).float(), pairs // 2, int(shared.sum()),
                          provenance=provenance or Provenance())  # fmt: skip


def anisotropy_sums(
    stream: Float[Tensor, "boundary batch pos d_model"],
    tokens: Int[Tensor, "batch pos"],
    attention_mask: Tensor,
    *,
    skip_first: bool = False,
) -> AnisotropySums:
    """`AnisotropySums` of given representations (their real tokens).

    ``skip_first``: leave out each prompt's first position (BOS / [CLS], whose vector is the
    same in every prompt of a causal model and would inflate self-similarity).
    """
    mask = attention_mask.bool().clone()
    if skip_first:  # each prompt's first real position, whichever side the padding is on
        mask[torch.arange(mask.shape[0]), first_real_positions(mask)] = False
    rows, cols = mask.nonzero(as_tuple=True)
    _, prompt = rows.unique(return_inverse=True)  # prompts with real tokens, numbered
    words, word = tokens[rows, cols].unique(return_inverse=True)
    n_prompts = int(prompt.max()) + 1 if len(prompt) else 0
    pair, word_prompt = (word * n_prompts + prompt).unique(return_inverse=True)
    per_prompt = torch.bincount(prompt, minlength=n_prompts)
    per_pair = torch.bincount(word_prompt, minlength=len(pair))
    owner = pair // max(n_prompts, 1)  # the word of each (word, prompt) pair

    def summed(values: Tensor, index: Tensor, n: int) -> Tensor:
        return values.new_zeros(n, *values.shape[1:]).index_add_(0, index, values)

    parts: dict[str, list[Tensor]] = defaultdict(list)
    # One boundary at a time, real tokens only, in float64: the whole padded stream in
    # float64 was SmolLM2's largest allocation.
    for layer in stream:
        raw = layer[rows, cols].double()
        vectors = torch.nn.functional.normalize(raw, dim=-1)
        parts["total"].append(vectors.sum(0))
        parts["within"].append(summed(vectors, prompt, n_prompts).pow(2).sum())
        parts["word_total"].append(summed(vectors, word, len(words)))
        parts["word_within"].append(
            summed(summed(vectors, word_prompt, len(pair)).pow(2).sum(-1), owner, len(words))
        )
        # intra-sentence: each token against its prompt's mean vector
        centres = torch.nn.functional.normalize(summed(raw, prompt, n_prompts), dim=-1)
        cosines = (vectors * centres[prompt]).sum(-1)
        parts["intra"].append((summed(cosines, prompt, n_prompts) / per_prompt).sum())
    stacked = {name: torch.stack(values) for name, values in parts.items()}
    return AnisotropySums(
        stacked["total"], stacked["within"], len(rows), int(per_prompt.pow(2).sum()), words,
        stacked["word_total"], stacked["word_within"], torch.bincount(word, minlength=len(words)),
        summed(per_pair.pow(2), owner, len(words)), torch.bincount(owner, minlength=len(words)),
        stacked["intra"], n_prompts,
    )  # fmt: skip


def anisotropy_of(
    stream: Float[Tensor, "boundary batch pos d_model"],
    tokens: Int[Tensor, "batch pos"],
    attention_mask: Tensor,
    *,
    skip_first: bool = False,
) -> Anisotropy:
    """`Anisotropy` of given representations (see the module docstring and `anisotropy_sums`).

    Raises:
        MechscopeError: no two prompts with real tokens.
    """
    return anisotropy_sums(stream, tokens, attention_mask, skip_first=skip_first).result()


@torch.no_grad()
def anisotropy_stats(model: Model, batch: TokenBatch, *, skip_first: bool = False) -> Anisotropy:
    """`Anisotropy` of the residual stream at every boundary of ``model`` on ``batch``."""
    stream = boundary_stream(model, batch).cpu()
    sums = anisotropy_sums(stream, batch.tokens.cpu(), batch.attention_mask.cpu(),
                           skip_first=skip_first)  # fmt: skip
    return sums.result(Provenance(model=model_spec(model)))


def class_geometry(points: Float[Tensor, "n d"], labels: Int[Tensor, " n"]) -> dict[str, float]:
    """Intra-class and inter-class distances, their ratio, and the effective rank."""
    points = points.double()
    classes = labels.unique()
    if len(classes) < 2:
        raise MechscopeError("class geometry needs at least two classes.")
    centroids = torch.stack([points[labels == c].mean(0) for c in classes])
    intra = torch.cat([(points[labels == c] - centroids[i]).norm(dim=-1)
                       for i, c in enumerate(classes)]).mean()  # fmt: skip
    pairwise = torch.cdist(centroids, centroids)
    inter = pairwise.sum() / (len(classes) * (len(classes) - 1))
    return {"intra": float(intra), "inter": float(inter), "ratio": float(intra / inter),
            "effective_rank": effective_rank(points - points.mean(0))}  # fmt: skip


@dataclass(frozen=True)
class ClassGeometry(Result):
    """`class_geometry` of labelled tokens at every boundary (e.g. words by part of speech)."""

    kind: ClassVar[str] = "class-geometry"
    classes: list[str]
    counts: list[int]
    """Tokens of each class."""
    intra: Float[Tensor, " boundary"]
    inter: Float[Tensor, " boundary"]
    ratio: Float[Tensor, " boundary"]
    effective_rank: Float[Tensor, " boundary"]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary."""
        import pandas as pd

        return pd.DataFrame({"intra": self.intra.tolist(), "inter": self.inter.tolist(),
                             "ratio": self.ratio.tolist(),
                             "effective_rank": self.effective_rank.tolist()})  # fmt: skip


@dataclass(frozen=True)
class LabelledPoints:
    """Labelled positions' representations at every boundary; parts concatenate (``+``)."""

    points: Float[Tensor, "boundary n d_model"]
    labels: Int[Tensor, " n"]
    """Each point's class: an index into the classes `geometry` is given."""

    def __add__(self, other: "LabelledPoints") -> "LabelledPoints":
        return LabelledPoints(torch.cat([self.points, other.points], dim=1),
                              torch.cat([self.labels, other.labels]))  # fmt: skip

    def geometry(self, classes: list[str], provenance: Provenance | None = None) -> ClassGeometry:
        """`class_geometry` at every boundary; classes no point has are left out.

        Raises:
            MechscopeError: fewer than two classes among the points.
        """
        counts = torch.bincount(self.labels, minlength=len(classes))
        present = counts.nonzero()[:, 0]
        renumber = torch.full((len(classes),), -1, dtype=torch.long)
        renumber[present] = torch.arange(len(present))
        labels = renumber[self.labels]
        rows = [class_geometry(layer, labels) for layer in self.points]
        return ClassGeometry(
            [classes[i] for i in present.tolist()], counts[present].tolist(),
            *(torch.tensor([row[key] for row in rows]) for key in ("intra", "inter", "ratio",
                                                                   "effective_rank")),
            provenance=provenance or Provenance(),
        )  # fmt: skip


@torch.no_grad()
def labelled_points(
    model: Model, tokens: TokenBatch | Int[Tensor, "batch pos"], labels: Int[Tensor, "batch pos"]
) -> LabelledPoints:
    """The representations of the labelled positions (label >= 0), on the CPU."""
    stream = boundary_stream(model, tokens)
    keep = (labels >= 0).to(stream.device)
    return LabelledPoints(stream[:, keep].cpu(), labels.to(stream.device)[keep].cpu())


def class_geometry_by_layer(
    model: Model,
    tokens: TokenBatch | Int[Tensor, "batch pos"],
    labels: Int[Tensor, "batch pos"],
    classes: list[str],
) -> ClassGeometry:
    """`class_geometry` of the labelled positions (label >= 0) at every boundary.

    Raises:
        MechscopeError: fewer than two classes among the labelled positions.
    """
    points = labelled_points(model, tokens, labels)
    return points.geometry(classes, Provenance(model=model_spec(model)))
