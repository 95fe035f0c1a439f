"""Reading an SAE's features: where each fires, how strongly, what it writes, its neighbours.

`read_features` encodes the activations of held-out windows once and keeps, per feature: its
density (the share of tokens it fires on), its top activating contexts (window, position,
value), a histogram of its nonzero activations (20 bins up to its largest), the tokens its
decoder direction promotes and suppresses read straight through the unembedding (the
"logit weights" of a residual-stream or output feature, per unit of activation:
`write_directions`; a model without an unembedding has none), and its nearest features by
decoder cosine similarity. The windows' tokens are kept as text for the views (only the tokens
that appear).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from mechscope.core.results import Result
from mechscope.features.activations import real_token_mask
from mechscope.features.sae import write_directions
from mechscope.features.splicing import check_sae_fits
from mechscope.models.adapter import adapt
from mechscope.models.base import Model
from mechscope.models.tokens import str_tokens

if TYPE_CHECKING:
    from sae_lens import SAE

BINS = 20
"""Bins of each feature's activation histogram (0 to its largest activation)."""


@dataclass(frozen=True)
class FeatureReading(Result):
    """Every feature of an SAE read on held-out windows (module doc)."""

    kind: ClassVar[str] = "feature-reading"
    hook: str
    windows: Int[Tensor, "window pos"]
    """The token ids read (their text: `vocab`)."""
    vocab: dict[str, str]
    """Token id (as a string key) -> its text, for every id in `windows` and the logit lists."""
    density: Float[Tensor, " feature"]
    top_values: Float[Tensor, "feature k"]
    """Largest activations of each feature (0 where it fired fewer than k times)."""
    top_windows: Int[Tensor, "feature k"]
    top_positions: Int[Tensor, "feature k"]
    histogram: Float[Tensor, "feature bin"]
    """Counts of each feature's nonzero activations in `BINS` equal bins up to its maximum."""
    promoted: Int[Tensor, "feature n_ids"] | None
    """Token ids each feature's decoder direction raises most through the unembedding."""
    promoted_logits: Float[Tensor, "feature n_ids"] | None
    suppressed: Int[Tensor, "feature n_ids"] | None
    suppressed_logits: Float[Tensor, "feature n_ids"] | None
    neighbours: Int[Tensor, "feature neighbour"]
    """Nearest other features by decoder cosine similarity."""
    neighbour_cosine: Float[Tensor, "feature neighbour"]

    @property
    def n_features(self) -> int:
        """Features of the SAE."""
        return int(self.density.shape[0])

    def text(self, token_id: int) -> str:
        """The text of one token id."""
        return self.vocab.get(str(token_id), str(token_id))

    def context(self, feature: int, rank: int = 0, width: int = 8) -> list[tuple[str, bool]]:
        """Tokens around a feature's ``rank``-th top activation; True marks the token itself."""
        window, position = (
            int(self.top_windows[feature, rank]),
            int(self.top_positions[feature, rank]),
        )
        ids = self.windows[window].tolist()
        start = max(0, position - width)
        return [(self.text(i), start + j == position)
                for j, i in enumerate(ids[start : position + 3])]  # fmt: skip

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per feature: density, largest activation, top tokens, nearest feature."""
        rows = []
        for f in range(self.n_features):
            rows.append({
                "feature": f, "density": float(self.density[f]),
                "max_activation": float(self.top_values[f, 0]),
                "top_token": self.text(int(self.windows[int(self.top_windows[f, 0]),
                                                         int(self.top_positions[f, 0])]))
                if self.top_values[f, 0] > 0 else "",
                "promoted": [self.text(int(i)) for i in self.promoted[f, :5]]
                if self.promoted is not None else [],
                "nearest": int(self.neighbours[f, 0]),
                "nearest_cosine": float(self.neighbour_cosine[f, 0]),
            })  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per feature (`summary_rows`)."""
        import pandas as pd

        return pd.DataFrame(self.summary_rows())


@torch.no_grad()
def read_features(
    model: Model,
    sae: "SAE[Any]",
    hook: str,
    windows: Int[Tensor, "window pos"],
    *,
    k: int = 10,
    n_logits: int = 10,
    n_neighbours: int = 5,
    batch_size: int = 8,
    skip_bos: bool = True,
    progress: bool = True,
) -> FeatureReading:
    """Read every feature of ``sae`` at ``hook`` on ``windows`` (module doc).

    Raises:
        MechscopeError: a hook the model lacks, or an SAE of another width.
    """
    check_sae_fits(model, sae, hook)
    n_features = int(sae.cfg.d_sae)
    top_values = torch.zeros(n_features, k)
    top_index = torch.zeros(n_features, k, dtype=torch.long)  # flat window * n_pos + pos
    fired = torch.zeros(n_features)
    nonzero_features: list[Tensor] = []
    nonzero_values: list[Tensor] = []
    n_tokens = 0
    n_pos = windows.shape[1]
    for start in tqdm(range(0, windows.shape[0], batch_size), desc="reading features",
                      disable=not progress, leave=False):  # fmt: skip
        tokens = windows[start : start + batch_size]
        _, cache = model.run_with_cache(tokens, names_filter=hook, return_type=None)
        keep = real_token_mask(model, tokens, skip_bos)
        rows, positions = keep.nonzero(as_tuple=True)
        acts = sae.encode(cache[hook][rows, positions].to(sae.dtype)).float().cpu()
        flat = (rows + start) * n_pos + positions
        n_tokens += acts.shape[0]
        fired += (acts > 0).sum(0)
        where = acts.nonzero(as_tuple=True)
        nonzero_features.append(where[1])
        nonzero_values.append(acts[where])
        values = torch.cat([top_values, acts.T], dim=1)
        index = torch.cat([top_index, flat.cpu().expand(n_features, -1)], dim=1)
        top_values, chosen = values.topk(k, dim=1)
        top_index = index.gather(1, chosen)
    features, values = torch.cat(nonzero_features), torch.cat(nonzero_values)
    maxima = top_values[:, 0].clamp_min(1e-12)
    bins = (values / maxima[features] * BINS).long().clamp(0, BINS - 1)
    histogram = torch.zeros(n_features * BINS).index_add_(
        0, features * BINS + bins, torch.ones_like(values)
    ).view(n_features, BINS)  # fmt: skip
    decoder = write_directions(sae).float().cpu()
    promoted = promoted_logits = suppressed = suppressed_logits = None
    if adapt(model).has_unembedding:
        logits = decoder @ model.W_U.detach().float().cpu()
        promoted_logits, promoted = logits.topk(n_logits, dim=1)
        suppressed_logits, suppressed = (-logits).topk(n_logits, dim=1)
        suppressed_logits = -suppressed_logits
    unit = torch.nn.functional.normalize(decoder, dim=1)
    neighbours = torch.zeros(n_features, n_neighbours, dtype=torch.long)
    cosine = torch.zeros(n_features, n_neighbours)
    for chunk in range(0, n_features, 1024):
        sims = unit[chunk : chunk + 1024] @ unit.T
        sims[torch.arange(sims.shape[0]), torch.arange(chunk, chunk + sims.shape[0])] = -2.0
        cosine[chunk : chunk + 1024], neighbours[chunk : chunk + 1024] = sims.topk(
            n_neighbours, dim=1
        )
    ids = set(windows.flatten().tolist())
    for extra in (promoted, suppressed):
        if extra is not None:
            ids |= set(extra.flatten().tolist())
    ordered = sorted(ids)
    vocab = dict(zip(map(str, ordered), str_tokens(model, ordered), strict=True))
    return FeatureReading(
        hook=hook, windows=windows.cpu(), vocab=vocab, density=fired / max(n_tokens, 1),
        top_values=top_values, top_windows=top_index // n_pos, top_positions=top_index % n_pos,
        histogram=histogram, promoted=promoted, promoted_logits=promoted_logits,
        suppressed=suppressed, suppressed_logits=suppressed_logits, neighbours=neighbours,
        neighbour_cosine=cosine,
    )  # fmt: skip
