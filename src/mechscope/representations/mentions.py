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
  with a bootstrap interval over documents and the nearest-mention baseline.
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
    same = torch.zeros(len(chosen), dtype=torch.float64)
    other = torch.zeros(len(chosen), dtype=torch.float64)
    n_same = n_other = 0
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
                same += cos[:, right].sum(1).double()
                other += cos[:, ~right].sum(1).double()
                n_same += int(right.sum())
                n_other += int((~right).sum())
                retrieved.append(right[cos.argmax(1)].float())
    queries = [(q, w.document) for w in windows for q in w.queries]
    return MentionSimilarity(
        tuple(boundary_labels(n_layers)[b] for b in chosen),
        (same / max(n_same, 1)).float(), (other / max(n_other, 1)).float(),
        torch.stack(retrieved, 1),
        torch.tensor([float(q.correct[-1]) for q, _ in queries]),
        torch.tensor([d for _, d in queries]), window, dict(skipped),
        provenance=Provenance(config={"window": window}, model=model_spec(model)),
    )  # fmt: skip
