"""Anisotropy of contextual representations (Ethayarajh 2019), and class geometry.

Per boundary, over the real tokens of a batch (a "word" here is a token id):

- baseline: the mean cosine similarity of random pairs of tokens from different prompts (a
  representation space where everything points one way has a baseline near 1);
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


def anisotropy_of(
    stream: Float[Tensor, "boundary batch pos d_model"],
    tokens: Int[Tensor, "batch pos"],
    attention_mask: Tensor,
    *,
    n_pairs: int = 2000,
    seed: int = 0,
    skip_first: bool = False,
) -> Anisotropy:
    """`Anisotropy` of given representations (see the module docstring).

    ``skip_first``: leave out each prompt's first position (BOS / [CLS], whose vector is the
    same in every prompt of a causal model and would inflate self-similarity).
    """
    mask = attention_mask.bool().clone()
    if skip_first:  # each prompt's first real position, whichever side the padding is on
        mask[torch.arange(mask.shape[0]), first_real_positions(mask)] = False
    rows, cols = mask.nonzero(as_tuple=True)
    if len(rows) < 2 or int(rows.max()) == int(rows.min()):
        raise MechscopeError("anisotropy needs real tokens from at least two prompts.")
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(0, len(rows), (n_pairs * 2,), generator=generator)
    b = torch.randint(0, len(rows), (n_pairs * 2,), generator=generator)
    different = rows[a] != rows[b]
    a, b = a[different][:n_pairs], b[different][:n_pairs]
    # self-similarity: every pair of occurrences of a token id in different prompts
    where: dict[int, list[int]] = defaultdict(list)
    for index, token in enumerate(tokens[rows, cols].tolist()):
        where[token].append(index)
    groups = [indices for indices in where.values() if len(set(rows[indices].tolist())) >= 2]
    n_words = len(groups)
    prompt_ids = rows.unique()
    n_boundaries = stream.shape[0]
    baseline = torch.zeros(n_boundaries, dtype=torch.float64)
    self_similarity = torch.full((n_boundaries,), torch.nan, dtype=torch.float64)
    intra = torch.zeros(n_boundaries, dtype=torch.float64)
    # One boundary at a time, real tokens only, in float64: the whole padded stream in
    # float64 (once per prompt, for the prompt means) was SmolLM2's largest allocation.
    for boundary in range(n_boundaries):
        vectors = torch.nn.functional.normalize(stream[boundary, rows, cols].double(), dim=-1)
        baseline[boundary] = (vectors[a] * vectors[b]).sum(-1).mean()
        sims = []
        for indices in groups:
            prompts = rows[indices]
            group = vectors[indices]  # k d
            other = prompts[:, None] != prompts[None, :]
            sims.append(((group @ group.T) * other).sum() / other.sum())
        if sims:
            self_similarity[boundary] = torch.stack(sims).mean()
        # intra-sentence: each token against its prompt's mean vector
        for prompt in prompt_ids:
            members = vectors[rows == prompt]
            centre = torch.nn.functional.normalize(
                stream[boundary, prompt][mask[prompt]].double().mean(0), dim=-1
            )
            intra[boundary] += (members * centre).sum(-1).mean() / len(prompt_ids)
    return Anisotropy(baseline.float(), self_similarity.float(), intra.float(), len(a), n_words)


@torch.no_grad()
def anisotropy_stats(model: Model, batch: TokenBatch, **kwargs: Any) -> Anisotropy:  # noqa: ANN401
    """`Anisotropy` of the residual stream at every boundary of ``model`` on ``batch``."""
    stream = boundary_stream(model, batch).cpu()
    result = anisotropy_of(stream, batch.tokens.cpu(), batch.attention_mask.cpu(), **kwargs)
    return Anisotropy(result.baseline, result.self_similarity, result.intra_sentence,
                      result.n_pairs, result.n_words,
                      provenance=Provenance(model=model_spec(model)))  # fmt: skip


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


@torch.no_grad()
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
    stream = boundary_stream(model, tokens)
    keep = (labels >= 0).to(stream.device)
    chosen = labels.to(stream.device)[keep]
    rows = [class_geometry(layer[keep], chosen) for layer in stream]
    counts = torch.bincount(chosen, minlength=len(classes)).tolist()
    return ClassGeometry(
        list(classes), counts,
        *(torch.tensor([row[key] for row in rows]) for key in ("intra", "inter", "ratio",
                                                               "effective_rank")),
        provenance=Provenance(model=model_spec(model)),
    )  # fmt: skip
