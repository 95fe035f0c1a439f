"""``mechscope features``: read an SAE's features on text, and browse them."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg

if TYPE_CHECKING:
    from mechscope.core.jobs import Outcome
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Read every feature of a sparse autoencoder on text, and write a feature browser.

    For each feature: how often it fires, its top activating contexts (tokens shaded by the
    activation), a histogram of its activations, the tokens its decoder direction promotes
    and suppresses through the unembedding, and its nearest features by decoder cosine. The
    report (OUT/report.html) is a searchable table; OUT/result.json holds every number.
    With --label, each feature also gets its best-aligned annotation (token, part of speech,
    relation, entity, coreference, sentiment, genre, position, induction), scored on held-out
    rows against a shuffled control (OUT/labels/). Example:
    mechscope features induction-2l --sae runs/saes/resid_post-1 --out results/f1 --label
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
    label: bool = False
    """Also label every feature by the annotations found in --data (UD EWT and GUM dev,
    SST-2) and on repeated random tokens."""
    data: Path | None = None
    """The datasets' directory (default: $MECHSCOPE_DATA, or a shared/data nearby)."""
    label_sentences: int = 300
    """Sentences of each annotated source the labels are measured on."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""

    def __post_init__(self) -> None:
        if self.tokens < 1 or self.n_ctx < 2 or self.top < 1 or self.label_sentences < 2:
            raise ValueError(
                "--tokens and --top must be at least 1, --n-ctx and --label-sentences at least 2"
            )


def run(cfg: Config) -> "Outcome":
    """Load the model and the SAE, read the features on held-out windows (and label them)."""
    import math

    import torch

    from mechscope.cli.common import load_text_model
    from mechscope.core.errors import MechscopeError
    from mechscope.core.jobs import Outcome
    from mechscope.data import data_root, load_corpus
    from mechscope.features import (
        check_sae_fits,
        label_features,
        load_sae,
        read_features,
        sae_hook,
        standard_annotations,
    )
    from mechscope.models import corpus_windows

    model = load_text_model(cfg.model, cfg.loading, "features")
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
    reading = read_features(model, sae, hook, windows, k=cfg.top).with_provenance(cfg, cfg.model)
    if not cfg.label:
        return Outcome({"": reading})
    labelled, missing = standard_annotations(
        model, cfg.data or data_root(), sentences=cfg.label_sentences,
        reviews=cfg.label_sentences, seed=cfg.seed,
    )  # fmt: skip
    labels = label_features(model, sae, hook, labelled, seed=cfg.seed)
    return Outcome({"": reading, "labels": labels.with_provenance(cfg, cfg.model)},
                   {"missing": missing})  # fmt: skip


def summary(outcome: "Outcome", cfg: Config) -> Iterator[str]:
    """How many features fired, the ten densest with their top token (and label)."""
    from mechscope.features import FeatureLabels, FeatureReading

    result, labels = outcome.main, outcome.results.get("labels")
    assert isinstance(result, FeatureReading)
    rows = result.summary_rows()
    alive = [r for r in rows if r["density"] > 0]
    yield (f"{len(alive)} of {result.n_features} features fired on {result.windows.shape[0]} "
           f"windows at {result.hook}; the densest:")  # fmt: skip
    yield f"{'feature':>8} {'density':>8} {'max act.':>9}  top token   promotes"
    for row in sorted(alive, key=lambda r: -r["density"])[:10]:
        yield (f"{row['feature']:>8} {row['density']:>8.4f} {row['max_activation']:>9.2f}  "
               f"{row['top_token']!r:<10}  {' '.join(map(repr, row['promoted']))}")  # fmt: skip
    if isinstance(labels, FeatureLabels):
        shares = labels.shares(n_boot=200)
        yield (
            f"labels: {int(labels.alive.sum())} live features on {labels.n_tokens} held-out "
            "tokens; " + ", ".join(f"{level.value} {s[0]:.2f}" for level, s in shares.items())
        )
        for path in outcome.context.get("missing", []):
            yield f"not found, not labelled on: {path}"
    yield f"feature browser: {cfg.out / 'report.html'}"


def report(outcome: "Outcome", cfg: Config) -> "Report":
    """The feature browser and the density histogram."""
    from mechscope.features import FeatureLabels, FeatureReading
    from mechscope.viz import Report, density_figure, feature_browser

    result, labels = outcome.main, outcome.results.get("labels")
    assert isinstance(result, FeatureReading)
    labels = labels if isinstance(labels, FeatureLabels) else None
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
    if labels is not None:
        page.paragraph(
            "Label: each feature's best annotation (family in brackets) chosen on half of the "
            "annotated rows, with its precision, recall and F1 on the other half; marked "
            "'(no label clears)' where none beats every one of 20 shuffles of the labels and "
            f"reaches F1 {labels.min_f1}.",
            note=True,
        )
    page.html(feature_browser(result, limit=cfg.shown or None, labels=labels))
    return page
