"""Coreference in the residual stream: are coreferent mentions closer than other mentions?

The windows and scored mentions are those of the coreference heads
(`mechscope.heads.coreference_windows`: GUM documents cut into windows of a few sentences;
each mention with an antecedent earlier in its window, with the head words of every earlier
mention as candidates). At each boundary, each word's vector is the mean of its tokens'
residual stream, centred on the window's mean word vector (raw cosines in a transformer are
dominated by one shared direction, larger still with SmolLM2's outlier dimensions). Per
boundary:

- *coreferent* / *other* similarity: the mean cosine between a mention's head word and the
  candidates of its own chain, and the candidates of other chains;
- *retrieval*: whether the most similar candidate is of the mention's chain (antecedent
  selection by nearest neighbour, the representation-level twin of the coreference heads),
  with a bootstrap interval over documents and the nearest-mention baseline;
- the two *distributions*: a histogram of the coreferent and of the other cosines (`BINS`
  bins over [-1, 1]) and their *separation*, the probability that a coreferent pair is more
  similar than an other pair (the area under the ROC curve of the cosine as a coreference
  score; 0.5: the distributions coincide, ties counted half).
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import group_bootstrap_interval
from mechscope.core.results import Provenance, Result
from mechscope.data.conllu import Coreference
from mechscope.heads.coreference import coreference_windows, membership
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_labels, target_hook
from mechscope.models.tokens import forward_kwargs, pad_id

BINS = 40
"""Histogram bins of the cosine distributions, over [-1, 1]."""


def separation(positive: Tensor, negative: Tensor) -> float:
    """P(a positive value > a negative one), ties counted half (the ROC curve's area)."""
    if not len(positive) or not len(negative):
        return float("nan")
    ordered = negative.double().sort().values
    below = torch.searchsorted(ordered, positive.double(), right=False)
    not_above = torch.searchsorted(ordered, positive.double(), right=True)
    wins = below.double() + (not_above - below).double() / 2
    return float(wins.sum() / (len(positive) * len(negative)))


@dataclass(frozen=True)
class MentionSimilarity(Result):
    """Per boundary: coreferent vs other similarity and antecedent retrieval."""

    kind: ClassVar[str] = "mention-similarity"
    boundaries: tuple[str, ...]
    coreferent: Float[Tensor, " boundary"]
    other: Float[Tensor, " boundary"]
    retrieved: Float[Tensor, "boundary mention"]
    """1 where the most similar earlier mention is of the mention's chain."""
    nearest: Float[Tensor, " mention"]
    """1 where the nearest earlier mention is (the baseline)."""
    document: Int[Tensor, " mention"]
    window: int
    skipped: dict[str, int] = field(default_factory=dict)
    coreferent_hist: Float[Tensor, "boundary bin"] | None = None
    """Counts of the coreferent cosines in `BINS` bins over [-1, 1] (saved before: None)."""
    other_hist: Float[Tensor, "boundary bin"] | None = None
    """Counts of the other cosines, the same bins."""
    separation: Float[Tensor, " boundary"] | None = None
    """P(coreferent cosine > other cosine) at each boundary (0.5: no separation)."""

    def density(self, index: int) -> tuple[list[float], list[float], list[float]]:
        """Bin centres and both cosine densities (each integrating to 1) at one boundary.

        Raises:
            MechscopeError: a result saved before the distributions were kept.
        """
        if self.coreferent_hist is None or self.other_hist is None:
            raise MechscopeError("this result was saved without the cosine distributions; "
                                 "measure it again (mention_similarity).")  # fmt: skip
        n_bins = self.coreferent_hist.shape[1]
        width = 2 / n_bins
        centres = [-1 + width * (i + 0.5) for i in range(n_bins)]
        same, other = self.coreferent_hist[index], self.other_hist[index]
        return (centres, (same / same.sum().clamp(min=1) / width).tolist(),
                (other / other.sum().clamp(min=1) / width).tolist())  # fmt: skip

    @property
    def accuracy(self) -> Float[Tensor, " boundary"]:
        """Antecedent retrieval accuracy at each boundary."""
        return self.retrieved.mean(1)

    def interval(self, index: int, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
        """A 95 % bootstrap interval over documents of one boundary's retrieval accuracy."""
        return group_bootstrap_interval(self.retrieved[index], self.document,
                                        n_resamples=n_boot, seed=seed)  # fmt: skip

    def table(self) -> list[dict[str, Any]]:
        """One row per boundary."""
        rows = []
        for i, boundary in enumerate(self.boundaries):
            low, high = self.interval(i)
            rows.append({"boundary": boundary, "coreferent": float(self.coreferent[i]),
                         "other": float(self.other[i]), "retrieval": float(self.accuracy[i]),
                         "ci_low": low, "ci_high": high,
                         "nearest_baseline": float(self.nearest.mean())})  # fmt: skip
            if self.separation is not None:
                rows[-1]["separation"] = float(self.separation[i])
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`table` as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.table())

    def _summary(self) -> dict[str, Any]:
        best = int(self.accuracy.argmax())
        return {"mentions": int(self.retrieved.shape[1]), "best": self.boundaries[best],
                "best_retrieval": float(self.accuracy[best]),
                "nearest": float(self.nearest.mean())}  # fmt: skip


@torch.no_grad()
def mention_similarity(
    model: Model,
    coreference: Coreference,
    *,
    window: int = 4,
    boundaries: list[int] | None = None,
    batch_size: int = 4,
    progress: bool = True,
) -> MentionSimilarity:
    """Coreferent vs other mention similarity and retrieval at each boundary (module doc).

    ``boundaries``: 0 = embeddings .. n_layers (default: all).

    Raises:
        MechscopeError: no window with a scored mention fits the model, or a bad boundary.
    """
    windows, skipped = coreference_windows(model, coreference, window)
    if not windows:
        raise MechscopeError("no mention with an antecedent in any window that fits the model; "
                             "try a smaller window.")  # fmt: skip
    n_layers = model.cfg.n_layers
    chosen = list(range(n_layers + 1)) if boundaries is None else list(boundaries)
    if bad := [b for b in chosen if not 0 <= b <= n_layers]:
        raise MechscopeError(f"boundary {bad[0]} is outside 0..{n_layers}.")
    names = [target_hook(model, b) for b in chosen]
    same: list[Tensor] = []  # per query: boundary x its chain's candidates
    other: list[Tensor] = []
    retrieved: list[Tensor] = []
    device = model.cfg.device or "cpu"
    for start in tqdm(range(0, len(windows), batch_size), desc="mention similarity",
                      disable=not progress, leave=False):  # fmt: skip
        chunk = windows[start : start + batch_size]
        batch = pad_token_lists([list(w.tokens) for w in chunk], pad_id(model)).to(device)
        _, cache = model.run_with_cache(batch.tokens, names_filter=names, return_type=None,
                                        **forward_kwargs(model, batch))  # fmt: skip
        stream = torch.stack([cache[name] for name in names]).float().cpu()  # [b', batch, pos, d]
        for b, win in enumerate(chunk):
            member = membership(win, stream.shape[2])
            words = torch.einsum("wt,btd->bwd", member / member.sum(1, keepdim=True),
                                 stream[:, b])  # fmt: skip
            words = words - words.mean(1, keepdim=True)
            words = torch.nn.functional.normalize(words, dim=-1)
            for query in win.queries:
                cos = torch.einsum("bd,bcd->bc", words[:, query.word],
                                   words[:, list(query.candidates)])  # fmt: skip
                right = torch.tensor(query.correct)
                same.append(cos[:, right])
                other.append(cos[:, ~right])
                retrieved.append(right[cos.argmax(1)].float())
    queries = [(q, w.document) for w in windows for q in w.queries]
    same_cos, other_cos = torch.cat(same, 1), torch.cat(other, 1)  # boundary pair

    def mean(cos: Tensor) -> Tensor:
        return cos.double().mean(1).float() if cos.shape[1] else torch.zeros(len(chosen))

    def histogram(cos: Tensor) -> Tensor:
        return torch.stack([torch.histc(row, BINS, -1, 1) for row in cos.float()])

    return MentionSimilarity(
        tuple(boundary_labels(n_layers)[b] for b in chosen),
        mean(same_cos), mean(other_cos),
        torch.stack(retrieved, 1),
        torch.tensor([float(q.correct[-1]) for q, _ in queries]),
        torch.tensor([d for _, d in queries]), window, dict(skipped),
        coreferent_hist=histogram(same_cos), other_hist=histogram(other_cos),
        separation=torch.tensor([separation(a, b) for a, b in zip(same_cos, other_cos,
                                                                  strict=True)]),
        provenance=Provenance(config={"window": window}, model=model_spec(model)),
    )  # fmt: skip
