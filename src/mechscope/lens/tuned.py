"""Tuned lens (Belrose et al. 2023): one learned affine translator per layer boundary.

Each boundary's residual goes through ``A_l h + b_l`` before the model's final LayerNorm and
unembedding (see `mechscope.lens`). Translators start at the identity (so training starts
from the logit lens) and are trained, with the model frozen, to minimise
``KL(final || lens)`` averaged over positions of a text corpus, as Belrose et al. do. The last
boundary needs no translator: it is the model's output.

tuned-lens itself supports only Hugging Face models (its issue #61); this works on any
HookedTransformer mechscope loads.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Int
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import tqdm

from mechscope.core.axes import Residual
from mechscope.core.batch import TokenBatch, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.data.corpus import load_corpus
from mechscope.lens.config import TunedLensConfig
from mechscope.lens.logit import (
    LensStat,
    boundary_hooks,
    check_lens_model,
    lens_trajectory,
    readout,
)
from mechscope.models.adapter import model_spec
from mechscope.models.base import Model
from mechscope.models.tokens import pad_id

LENS_FILE = "tuned_lens.safetensors"
LENS_CONFIG = "tuned_lens.json"


class TunedLens(nn.Module):
    """Affine translators for boundaries 0..n_layers-1 (identity-initialised)."""

    def __init__(self, n_layers: int, d_model: int) -> None:
        super().__init__()
        self.translators = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n_layers))
        with torch.no_grad():
            for layer in self.translators:
                assert isinstance(layer, nn.Linear)
                layer.weight.copy_(torch.eye(d_model))
                layer.bias.zero_()

    def forward(self, boundary: int, resid: Residual) -> Residual:
        """The translated residual of ``boundary``."""
        return self.translators[boundary](resid)

    def save(self, directory: str | Path) -> Path:
        """Write weights and shape into ``directory``."""
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            save_file(
                {k: v.contiguous() for k, v in self.state_dict().items()}, directory / LENS_FILE
            )
            first = self.translators[0]
            assert isinstance(first, nn.Linear)
            shape = {"n_layers": len(self.translators), "d_model": first.in_features}
            (directory / LENS_CONFIG).write_text(json.dumps(shape))
        except OSError as error:
            raise MechscopeError(f"cannot write the tuned lens to {directory}: {error}") from error
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "TunedLens":
        """Read back what `save` wrote."""
        directory = Path(directory)
        try:
            shape = json.loads((directory / LENS_CONFIG).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise MechscopeError(f"{directory} holds no tuned lens ({error}).") from error
        lens = cls(shape["n_layers"], shape["d_model"])
        lens.load_state_dict(load_file(directory / LENS_FILE))
        return lens


def corpus_windows(
    model: Model, texts: bytes, n_windows: int, n_ctx: int, generator: torch.Generator
) -> Int[Tensor, "batch pos"]:
    """``n_windows`` windows of ``n_ctx`` tokens (BOS first if the model uses one)."""
    if model.tokenizer is None:
        raise MechscopeError("training a tuned lens needs a model with a tokenizer.")
    span = 8 * n_ctx  # bytes; enough for n_ctx tokens of any tokenizer
    if len(texts) < span + 1:
        raise MechscopeError(
            f"the corpus has {len(texts)} bytes; a tuned lens needs more than {span}."
        )
    starts = torch.randint(0, len(texts) - span, (n_windows,), generator=generator).tolist()
    rows = []
    for start in starts:
        text = texts[start : start + span].decode("utf-8", errors="ignore")
        ids = model.to_tokens(text, truncate=False)[0].tolist()[:n_ctx]
        rows.append(ids)
    return pad_token_lists(rows, pad_id(model)).tokens.to(model.cfg.device or "cpu")


def train_tuned_lens(model: Model, cfg: TunedLensConfig, *, progress: bool = True) -> TunedLens:
    """Train the translators of ``model`` (frozen) on text windows."""
    model = check_lens_model(model)
    n_ctx = min(cfg.n_ctx, model.cfg.n_ctx)
    corpus = load_corpus(cfg.corpus or None)
    text = corpus.train.tobytes()
    lens = TunedLens(model.cfg.n_layers, model.cfg.d_model).to(model.cfg.device or "cpu")
    optimizer = torch.optim.Adam(lens.parameters(), lr=cfg.lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    names = boundary_hooks(model.cfg.n_layers)
    for _ in tqdm(range(cfg.steps), disable=not progress, desc="tuned lens"):
        tokens = corpus_windows(model, text, cfg.batch_size, n_ctx, generator)
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens, names_filter=names, return_type=None)
            final = readout(model, cache[names[-1]]).log_softmax(-1)
        loss = torch.zeros(())
        for boundary, name in enumerate(names[:-1]):
            lens_lp = readout(model, lens(boundary, cache[name])).log_softmax(-1)
            loss = loss + (final.exp() * (final - lens_lp)).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return lens.eval()


@dataclass(frozen=True)
class LensComparison(Result):
    """Mean KL(final || lens) per boundary, logit lens vs tuned lens, on the same text."""

    kind: ClassVar[str] = "lens-comparison"
    labels: list[str]
    logit_lens_kl: list[float]
    tuned_lens_kl: list[float]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary: label and both lenses' mean KL."""
        import pandas as pd

        return pd.DataFrame(self._data())

    def _tensors(self) -> dict[str, Tensor]:
        return {}

    def _data(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "logit_lens_kl": self.logit_lens_kl,
            "tuned_lens_kl": self.tuned_lens_kl,
        }

    @classmethod
    def _from_saved(cls, tensors: dict[str, Tensor], data: dict[str, Any]) -> "LensComparison":  # noqa: ARG003
        return cls(data["labels"], data["logit_lens_kl"], data["tuned_lens_kl"])


def compare_lenses(
    model: Model, lens: TunedLens, tokens: Int[Tensor, "batch pos"]
) -> LensComparison:
    """Both lenses on the same (held-out) windows."""
    batch = TokenBatch.full(tokens)
    logit = lens_trajectory(model, batch)
    with torch.no_grad():
        tuned = lens_trajectory(model, batch, translator=lens)
    return LensComparison(
        logit.labels,
        logit.mean_over_positions(LensStat.KL_TO_FINAL),
        tuned.mean_over_positions(LensStat.KL_TO_FINAL),
        provenance=Provenance(model=model_spec(model)),
    )


def held_out_windows(
    model: Model, cfg: TunedLensConfig, n_windows: int = 32
) -> Int[Tensor, "batch pos"]:
    """Windows of the corpus's held-out split (never seen in training the lens)."""
    corpus = load_corpus(cfg.corpus or None)
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    n_ctx = min(cfg.n_ctx, model.cfg.n_ctx)
    return corpus_windows(model, corpus.held_out.tobytes(), n_windows, n_ctx, generator)
