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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result, read_tensors, write_tensors
from mechscope.data.corpus import Corpus, load_corpus
from mechscope.lens.config import TunedLensConfig
from mechscope.lens.logit import check_lens_model
from mechscope.models.adapter import model_spec
from mechscope.models.base import Decoder, Model, parameters_requiring_grad
from mechscope.models.run import boundary_labels, boundary_stream, readout, readout_groups
from mechscope.models.tokens import corpus_windows

LENS_FILE = "tuned_lens.safetensors"
LENS_CONFIG = "tuned_lens.json"


class TunedLens(nn.Module):
    """Affine translators for boundaries 0..n_layers-1 (identity-initialised)."""

    def __init__(self, n_layers: int, d_model: int) -> None:
        super().__init__()
        self.translators = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n_layers))
        self.losses: list[float] = []
        """Mean KL over boundaries of each training step."""
        with torch.no_grad():
            for layer in self.translators:
                assert isinstance(layer, nn.Linear)
                layer.weight.copy_(torch.eye(d_model))
                layer.bias.zero_()

    def forward(
        self, boundary: int, resid: Float[Tensor, "... d_model"]
    ) -> Float[Tensor, "... d_model"]:
        """The translated residual of ``boundary``."""
        return self.translators[boundary](resid)

    def translate_stream(
        self, resid: Float[Tensor, "boundary ... d_model"]
    ) -> Float[Tensor, "boundary ... d_model"]:
        """Every boundary's residual (`boundary_stream`) through its translator.

        The last boundary, the model's output, is kept as it is.
        """
        last = len(resid) - 1
        return torch.stack([*(self(b, resid[b]) for b in range(last)), resid[last]])

    def save(self, directory: str | Path) -> Path:
        """Write weights and shape into ``directory``."""
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_tensors(
                {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
                directory / LENS_FILE,
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
        """Read back what `save` wrote.

        Raises:
            MechscopeError: no tuned lens there, or its weights are corrupt or truncated.
        """
        directory = Path(directory)
        try:
            shape = json.loads((directory / LENS_CONFIG).read_text())
            lens = cls(int(shape["n_layers"]), int(shape["d_model"]))
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise MechscopeError(f"{directory} holds no tuned lens ({error}).") from error
        weights = read_tensors(directory / LENS_FILE, "train the tuned lens again")
        try:
            lens.load_state_dict(weights)
        except RuntimeError as error:
            raise MechscopeError(
                f"{directory / LENS_FILE} does not match its {LENS_CONFIG} ({error}); train "
                "the tuned lens again."
            ) from error
        return lens

    def check_fits(self, model: Model) -> None:
        """Raise `MechscopeError` unless the lens was trained for ``model``'s shape."""
        first = self.translators[0]
        assert isinstance(first, nn.Linear)
        shape = (len(self.translators), first.in_features)
        wanted = (model.cfg.n_layers, model.cfg.d_model)
        if shape != wanted:
            raise MechscopeError(
                f"this tuned lens has {shape[0]} translators of width {shape[1]}, but the model "
                f"has {wanted[0]} layers of width {wanted[1]}: it was trained on another model. "
                "Train one for this model (mechscope tuned-lens)."
            )


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Parameters of ``model`` need no gradient inside (restored on exit, even on error).

    Without it, training a lens would also compute the unembedding's gradient: as much work
    again as the readout itself.
    """
    with parameters_requiring_grad(model, False):
        yield


@torch.no_grad()
def fit_regression(
    model: Decoder,
    lens: TunedLens,
    batches: Iterable[Int[Tensor, "batch pos"]],
    ridge: float = 1e-4,
) -> TunedLens:
    """Set every translator to the least-squares map from its residual to the final one.

    Din et al. 2023 ("Jump to conclusions") fit this linear shortcut; as a tuned lens's
    start it is closed form (normal equations accumulated in float64 over ``batches``, with
    a ridge of ``ridge`` times the mean diagonal for conditioning).
    """
    n, d = model.cfg.n_layers, model.cfg.d_model
    device = model.cfg.device or "cpu"
    xtx = torch.zeros(n, d + 1, d + 1, dtype=torch.float64, device=device)
    xty = torch.zeros(n, d + 1, d, dtype=torch.float64, device=device)
    for tokens in batches:
        resid = boundary_stream(model, tokens).flatten(1, 2).double()
        x = torch.cat([resid[:-1], resid.new_ones(resid.shape[0] - 1, resid.shape[1], 1)], -1)
        xtx += x.mT @ x
        xty += x.mT @ resid[-1]
    scale = xtx.diagonal(dim1=1, dim2=2).mean(-1)[:, None, None]
    eye = torch.eye(d + 1, dtype=xtx.dtype, device=device)
    solution = torch.linalg.solve(xtx + ridge * scale * eye, xty).float().cpu()
    for b, translator in enumerate(lens.translators):
        assert isinstance(translator, nn.Linear)
        translator.weight.copy_(solution[b, :d].T)
        translator.bias.copy_(solution[b, d])
    return lens


def kl_to_final(
    model: Decoder,
    resid: Float[Tensor, "*boundary batch pos d_model"],
    final: Float[Tensor, "batch pos d_vocab"],
) -> Float[Tensor, "*boundary batch pos"]:
    """KL(final || readout(resid)), with ``final`` the model's log-probs.

    ``resid`` may have leading dimensions (boundaries) before ``final``'s.
    """
    log_probs = readout(model, resid).log_softmax(-1)
    return (final.exp() * (final - log_probs)).sum(-1)


def train_tuned_lens(
    model: Model,
    cfg: TunedLensConfig,
    *,
    text: bytes | None = None,
    start: TunedLens | None = None,
    progress: bool = True,
) -> TunedLens:
    """Train the translators of ``model`` (frozen) on windows of ``text`` (default: cfg's corpus).

    ``start``: a lens to continue from (copied; ``cfg.init`` is then not used).

    The translators are independent, so each boundary's loss is back-propagated on its own
    (the same gradient as their sum, with one boundary's d_vocab logits in memory at a time).
    The mean KL of each step is kept in ``lens.losses``.
    """
    model = check_lens_model(model)
    n_ctx = min(cfg.n_ctx, model.cfg.n_ctx)
    if text is None:
        text = corpus_text(cfg).train.tobytes()
    device = model.cfg.device or "cpu"
    lens = TunedLens(model.cfg.n_layers, model.cfg.d_model)
    generator = torch.Generator().manual_seed(cfg.seed)
    if start is not None:
        start.check_fits(model)
        lens.load_state_dict(start.state_dict())
        lens.losses = list(start.losses)
    elif cfg.init == "regression":
        sizes = [min(cfg.batch_size, cfg.regression_windows - i)
                 for i in range(0, cfg.regression_windows, cfg.batch_size)]  # fmt: skip
        batches = [corpus_windows(model, text, size, n_ctx, generator) for size in sizes]
        fit_regression(model, lens, tqdm(batches, disable=not progress, desc="least-squares start"))
    lens = lens.to(device)
    optimizer = torch.optim.Adam(lens.parameters(), lr=cfg.lr)
    with frozen(model):
        for _ in tqdm(range(cfg.steps), disable=not progress, desc="tuned lens"):
            tokens = corpus_windows(model, text, cfg.batch_size, n_ctx, generator)
            resid = boundary_stream(model, tokens)
            if 0 < cfg.positions < resid.shape[2]:
                keep = torch.randperm(resid.shape[2], generator=generator)[: cfg.positions]
                resid = resid[:, :, keep.to(resid.device)]
            with torch.no_grad():
                final = readout(model, resid[-1]).log_softmax(-1)
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for boundary in range(model.cfg.n_layers):
                loss = kl_to_final(model, lens(boundary, resid[boundary]), final).mean()
                loss.backward()
                total += loss.item()
            optimizer.step()
            lens.losses.append(total / model.cfg.n_layers)
    return lens.eval()


LOGIT_LENS = "logit lens"


@dataclass(frozen=True)
class LensComparison(Result):
    """KL(final || lens) per lens, boundary and text window, on the same windows.

    Each entry is the mean over a window's positions (or a random sample of them), so the
    windows are the independent samples behind each standard error.
    """

    kind: ClassVar[str] = "lens-comparison"
    labels: list[str]
    """One label per boundary (embeddings, after block 0, ...)."""
    lenses: list[str]
    kl: Float[Tensor, "lens boundary window"]

    def _summary(self) -> dict[str, Any]:
        return {"mean": {lens: self.mean(lens) for lens in self.lenses}}

    def index(self, lens: str) -> int:
        """Position of ``lens`` in `lenses`."""
        if lens not in self.lenses:
            raise MechscopeError(f"no lens {lens!r} in this comparison; it has {self.lenses}.")
        return self.lenses.index(lens)

    def mean(self, lens: str) -> list[float]:
        """Mean KL per boundary over the windows."""
        return self.kl[self.index(lens)].double().mean(-1).tolist()

    def sem(self, lens: str) -> list[float]:
        """Standard error of `mean` per boundary (window-to-window spread / sqrt(windows))."""
        values = self.kl[self.index(lens)].double()
        return (values.std(-1) / values.shape[-1] ** 0.5).tolist()

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary: each lens's mean KL and its standard error."""
        import pandas as pd

        table: dict[str, list] = {"boundary": self.labels}
        for lens in self.lenses:
            table[lens] = self.mean(lens)
            table[f"{lens} s.e."] = self.sem(lens)
        return pd.DataFrame(table)


@torch.no_grad()
def compare_lenses(
    model: Model,
    lenses: TunedLens | Mapping[str, TunedLens | None],
    tokens: Int[Tensor, "batch pos"],
    *,
    positions: int = 0,
    batch_size: int = 8,
    seed: int = 0,
) -> LensComparison:
    """Lenses on the same (held-out) windows: KL(final || lens) per boundary and window.

    ``lenses``: one tuned lens (compared with the logit lens), or lenses by name, None
    naming the logit lens. ``positions``: positions per window drawn at random (the same for
    every lens); 0: all of them.
    """
    model = check_lens_model(model)
    named = {LOGIT_LENS: None, "tuned lens": lenses} if isinstance(lenses, TunedLens) else lenses
    for lens in named.values():
        if lens is not None:
            lens.check_fits(model)
    n_boundaries = model.cfg.n_layers + 1
    kl = torch.zeros(len(named), n_boundaries, tokens.shape[0])
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, tokens.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        resid = boundary_stream(model, tokens[rows])
        if 0 < positions < resid.shape[2]:
            keep = torch.randperm(resid.shape[2], generator=generator)[:positions]
            resid = resid[:, :, keep.to(resid.device)]
        final = readout(model, resid[-1]).log_softmax(-1)
        for i, lens in enumerate(named.values()):
            reads = resid if lens is None else lens.translate_stream(resid)
            # Boundaries read out together (a few hundred rows a matrix product).
            for group in readout_groups(n_boundaries, final.shape[0] * final.shape[1]):
                kl[i, group, rows] = kl_to_final(model, reads[group], final).mean(-1).cpu()
    return LensComparison(
        list(boundary_labels(model.cfg.n_layers)),
        list(named),
        kl,
        provenance=Provenance(config={"positions": positions}, model=model_spec(model)),
    )


def corpus_text(cfg: TunedLensConfig) -> Corpus:
    """The corpus ``cfg`` names (its held-out files, if named, as the held-out split)."""
    return load_corpus(cfg.corpus or None, held_out=cfg.held_out or None)


def held_out_windows(
    model: Model, cfg: TunedLensConfig, n_windows: int = 32
) -> Int[Tensor, "batch pos"]:
    """Windows of the corpus's held-out split (never seen in training the lens)."""
    corpus = corpus_text(cfg)
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    n_ctx = min(cfg.n_ctx, model.cfg.n_ctx)
    return corpus_windows(model, corpus.held_out.tobytes(), n_windows, n_ctx, generator)
