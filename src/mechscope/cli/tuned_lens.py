"""``mechscope tuned-lens``: train a tuned lens and compare it with the logit lens."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import tyro

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg
from mechscope.lens.config import TunedLensConfig

if TYPE_CHECKING:
    from mechscope.lens.tuned import LensComparison


@dataclass(frozen=True, kw_only=True)
class Config:
    """Train a tuned lens and compare it with the logit lens.

    Train one affine translator per layer boundary (Belrose et al. 2023) to minimise
    KL(final || lens) on a text corpus, with the model frozen; save it into --out and
    compare it with the logit lens on held-out text (DIR/comparison/result.json). Example:
    mechscope tuned-lens induction-2l --out results/tuned-lens --steps 300
    """

    model: ModelArg
    out: OutArg
    """Where the lens goes (use it with: mechscope lens MODEL --tuned-lens DIR)."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    lens: Annotated[TunedLensConfig, tyro.conf.OmitArgPrefixes] = field(
        default_factory=TunedLensConfig
    )
    """How the lens is trained."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> dict[str, "LensComparison"]:
    """Train the lens (saved into --out as it is a model), compare it with the logit lens."""
    from mechscope.cli.common import load_text_model
    from mechscope.lens.tuned import compare_lenses, held_out_windows, train_tuned_lens

    model = load_text_model(cfg.model, cfg.loading, "tuned-lens")
    lens = train_tuned_lens(model, cfg.lens)
    lens.save(cfg.out)
    comparison = compare_lenses(model, lens, held_out_windows(model, cfg.lens))
    return {"comparison": comparison.with_provenance(cfg, cfg.model)}


def summary(results: dict[str, "LensComparison"], cfg: Config) -> Iterator[str]:
    """Mean KL of each lens by boundary, with standard errors over windows."""
    from mechscope.lens.tuned import LOGIT_LENS

    comparison = results["comparison"]
    yield "mean KL(final || lens) on held-out text, nats (± s.e. over windows):"
    yield f"{'boundary':<16} {'logit lens':>16} {'tuned lens':>16}"
    columns = [(comparison.mean(name), comparison.sem(name)) for name in (LOGIT_LENS, "tuned lens")]
    for b, label in enumerate(comparison.labels):
        cells = " ".join(f"{mean[b]:>8.3f} ± {se[b]:<5.3f}" for mean, se in columns)
        yield f"{label:<16} {cells}"
    yield f"tuned lens: {cfg.out} (use it with: mechscope lens MODEL --tuned-lens DIR)"


def report(results: dict[str, "LensComparison"], cfg: Config) -> None:  # noqa: ARG001
    """No page: the table is the output (the Job contract's report)."""
