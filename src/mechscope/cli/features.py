"""``mechscope features``: read an SAE's features on text, and browse them."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import DeviceArg, ModelArg, OutArg

if TYPE_CHECKING:
    from mechscope.features.reading import FeatureReading
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Read every feature of a sparse autoencoder on text, and write a feature browser.

    For each feature: how often it fires, its top activating contexts (tokens shaded by the
    activation), a histogram of its activations, the tokens its decoder direction promotes
    and suppresses through the unembedding, and its nearest features by decoder cosine. The
    report (OUT/report.html) is a searchable table; OUT/result.json holds every number.
    Example: mechscope features induction-2l --sae runs/saes/resid_post-1 --out results/f1
    """

    model: ModelArg
    sae: str
    """An SAE directory (SAELens format: cfg.json, sae_weights.safetensors), or with
    --sae-id a SAELens release name (needs the network or the Hugging Face cache)."""
    out: OutArg
    """Where result.json, tensors.safetensors and report.html go."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    sae_id: str | None = None
    """The SAE's id within the release named by --sae."""
    hook: str | None = None
    """The hook point the SAE reads (default: the one its cfg.json records)."""
    corpus: tuple[Path, ...] = ()
    """Text files or directories to read (default: the standard library); the held-out
    split is read (the last 5 %, or --held-out)."""
    held_out: tuple[Path, ...] = ()
    """Files to read instead of the corpus's held-out split."""
    tokens: int = 20_000
    """Tokens to read (about; whole windows)."""
    n_ctx: int = 128
    """Tokens per window."""
    top: int = 10
    """Top activating contexts kept per feature."""
    shown: int | None = 500
    """Features in the browser, densest first (all: 0)."""
    seed: int = 0
    """Seed of the window draw."""
    device: DeviceArg = None
    """Torch device (default: CUDA when available, else CPU)."""

    def __post_init__(self) -> None:
        if self.tokens < 1 or self.n_ctx < 2 or self.top < 1:
            raise ValueError("--tokens and --top must be at least 1, --n-ctx at least 2")


def run(cfg: Config) -> "FeatureReading":
    """Load the model and the SAE, read the features on held-out windows."""
    import math

    import torch

    from mechscope.cli.common import load_text_model
    from mechscope.core.errors import MechscopeError
    from mechscope.data import load_corpus
    from mechscope.features import check_sae_fits, load_sae, read_features, sae_hook
    from mechscope.models import corpus_windows

    model = load_text_model(cfg.model, cfg.device, "features")
    sae = load_sae(cfg.sae, cfg.sae_id, device=str(model.cfg.device or "cpu"))
    hook = cfg.hook or sae_hook(sae)
    if hook is None:
        raise MechscopeError(
            "the SAE's cfg.json records no hook point; pass --hook (e.g. blocks.3.hook_resid_post)."
        )
    check_sae_fits(model, sae, hook)
    corpus = load_corpus(cfg.corpus or None, held_out=cfg.held_out or None)
    n_ctx = min(cfg.n_ctx, model.cfg.n_ctx)
    n_windows = max(1, math.ceil(cfg.tokens / (n_ctx - 1)))
    generator = torch.Generator().manual_seed(cfg.seed)
    windows = corpus_windows(model, corpus.held_out.tobytes(), n_windows, n_ctx, generator)
    return read_features(model, sae, hook, windows, k=cfg.top).with_provenance(cfg, cfg.model)


def summary(result: "FeatureReading", cfg: Config) -> Iterator[str]:
    """How many features fired, and the ten densest with their top token."""
    rows = result.summary_rows()
    alive = [r for r in rows if r["density"] > 0]
    yield (f"{len(alive)} of {result.n_features} features fired on {result.windows.shape[0]} "
           f"windows at {result.hook}; the densest:")  # fmt: skip
    yield f"{'feature':>8} {'density':>8} {'max act.':>9}  top token   promotes"
    for row in sorted(alive, key=lambda r: -r["density"])[:10]:
        yield (f"{row['feature']:>8} {row['density']:>8.4f} {row['max_activation']:>9.2f}  "
               f"{row['top_token']!r:<10}  {' '.join(map(repr, row['promoted']))}")  # fmt: skip
    yield f"feature browser: {cfg.out / 'report.html'}"


def report(result: "FeatureReading", cfg: Config) -> "Report":
    """The feature browser and the density histogram."""
    from mechscope.viz import Report, density_figure, feature_browser

    page = Report(f"Features of {cfg.sae} on {cfg.model} ({result.hook})")
    page.paragraph(
        "Read on held-out windows. Density: the share of tokens a feature fires on. Contexts: "
        "the tokens before and after each top activation, shaded by the feature's activation "
        "on the token itself (outlined). Promotes / suppresses: the tokens whose logits the "
        "feature's decoder direction raises / lowers most through the unembedding (without "
        "the final LayerNorm).",
        note=True,
    )
    page.figure(density_figure({"features": result.density}))
    page.html(feature_browser(result, limit=cfg.shown or None))
    return page
