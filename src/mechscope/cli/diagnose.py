"""``mechscope diagnose``: a health report for a model on a batch of prompts."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import (
    Loading,
    LoadingArg,
    ModelArg,
    OutArg,
    Sharding,
    ShardingArg,
    with_prompts,
)

if TYPE_CHECKING:
    from mechscope.core.results import Result
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """A health report: attention collapse, rank, anisotropy and gradients on one batch.

    Per head: entropy, max weight, span, sink mass, with one-hot / uniform collapse flags;
    per layer: effective heads, effective rank and res(X) of the token representations,
    Ethayarajh's anisotropy; with --conllu, the class geometry of the words by part of speech
    (UPOS, read at each word's last token) per layer; for decoders, next-token gradient norms
    per layer and component, their histograms, and vanishing / exploding flags. Each flag is
    explained in a line. --workers N runs shards of the prompts on N processes (or a Ray
    cluster) and adds up their sums into the same results. Example:
    mechscope diagnose induction-2l --out results/diagnose
    """

    model: ModelArg
    prompts: Path | None = None
    """Text file, one prompt per line (default: built-in prompts)."""
    conllu: Path | None = None
    """A CoNLL-U treebank whose sentences are the prompts."""
    max_prompts: int = 64
    """Prompts read at most."""
    batch_size: int = 64
    """Prompts a pass (each diagnostic is a sum over prompts, so the batches add up to one
    pass over them all)."""
    gradients: bool = True
    """Take the next-token gradients (decoders); --no-gradients skips them: they are most of
    the work, and on workers a model-size tensor a shard."""
    out: OutArg = Path("results/diagnose")
    """Where each result and report.html go."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""
    sharding: ShardingArg = field(default_factory=Sharding)
    """Where the prompts run: --workers, --executor, --address (the shards' sums merged)."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("--batch-size must be at least 1")


def run(cfg: Config) -> dict[str, "Result"]:
    """Attention, rank, anisotropy, gradients (decoders) and UPOS geometry (--conllu)."""
    from mechscope.cli.common import load_text_model, sharding
    from mechscope.core.errors import MechscopeError
    from mechscope.data.conllu import read_conllu
    from mechscope.data.prompts import DEFAULT_PROMPTS, read_prompts
    from mechscope.diagnostics import diagnose
    from mechscope.executors import sharded_diagnose

    if cfg.prompts and cfg.conllu:
        raise MechscopeError("give --prompts or --conllu, not both.")
    sentences = read_conllu(cfg.conllu, cfg.max_prompts) if cfg.conllu else ()
    if sentences:
        prompts = [" ".join(s.words) for s in sentences]
    else:
        prompts = read_prompts(cfg.prompts) if cfg.prompts else list(DEFAULT_PROMPTS)
    prompts = prompts[: cfg.max_prompts]
    config = with_prompts(cfg, prompts)
    shards = sharding(cfg.model, cfg.loading, cfg.sharding)
    model = load_text_model(cfg.model, cfg.loading, "diagnose")
    options = {
        "sentences": sentences,
        "batch_size": cfg.batch_size,
        "gradients": None if cfg.gradients else False,
    }  # None: where the model has them
    if shards is None:
        results = diagnose(model, prompts, **options)
    else:
        recipe, executor = shards
        results = sharded_diagnose(recipe, prompts, executor, model=model, **options)
    return {name: r.with_provenance(config, cfg.model) for name, r in results.items()}


def summary(results: dict[str, "Result"], cfg: Config) -> Iterator[str]:
    """Collapsed heads, rank, anisotropy, class geometry and gradient health, one line each."""
    from mechscope.diagnostics import (
        Anisotropy,
        AttentionStats,
        ClassGeometry,
        GradientNorms,
        RankStats,
    )
    from mechscope.diagnostics.attention import ONE_HOT_BELOW, UNIFORM_ABOVE
    from mechscope.diagnostics.gradients import EXPLODING_ABOVE, VANISHING_BELOW

    attention, rank, spread = results["attention"], results["rank"], results["anisotropy"]
    assert isinstance(attention, AttentionStats) and isinstance(rank, RankStats)
    assert isinstance(spread, Anisotropy)
    geometry, grads = results.get("class-geometry"), results.get("gradients")
    yield f"{cfg.model}: {len(attention.provenance.config.get('prompts', []))} prompts"
    flags = attention.flags()
    yield (f"attention: {len(flags)} of {attention.entropy.numel()} heads collapsed "
           f"(normalised entropy < {ONE_HOT_BELOW}: one-hot, > {UNIFORM_ABOVE}: "
           "uniform)")  # fmt: skip
    for head, kind in flags[:20]:
        entropy = float(attention.normalised_entropy[head])
        yield f"  {head.layer}.{head.head} {kind}: normalised entropy {entropy:.3f}"
    yield "rank: effective rank / res(X) by boundary: " + ", ".join(
        f"{r['effective_rank']:.1f}/{r['res']:.2f}" for r in rank.summary())  # fmt: skip
    yield ("anisotropy (mean cosine of tokens from different prompts) by boundary: "
           + ", ".join(f"{v:.2f}" for v in spread.baseline.tolist()))  # fmt: skip
    if isinstance(geometry, ClassGeometry):
        yield (f"class geometry of {sum(geometry.counts)} words by UPOS "
               f"({len(geometry.classes)} tags), intra/inter-class distance ratio by boundary: "
               + ", ".join(f"{v:.2f}" for v in geometry.ratio.tolist()))  # fmt: skip
    if not isinstance(grads, GradientNorms):
        why = ("--no-gradients" if not cfg.gradients
               else "needs a decoder with an unembedding for the next-token loss")  # fmt: skip
        yield f"gradients: skipped ({why})"
    else:
        yield (f"gradients: first/last block norm ratio {grads.ratio():.3g} "
               f"(vanishing below {VANISHING_BELOW:g}, exploding above {EXPLODING_ABOVE:g}): "
               f"{', '.join(grads.flags()) or 'healthy'}")  # fmt: skip
    yield f"report: {cfg.out / 'report.html'}"


def report(results: dict[str, "Result"], cfg: Config) -> "Report":
    """Every diagnostic's figures."""
    from mechscope.viz.diagnostics import render_diagnostics

    return render_diagnostics(
        results["attention"],  # pyright: ignore[reportArgumentType]
        results["rank"],  # pyright: ignore[reportArgumentType]
        results["anisotropy"],  # pyright: ignore[reportArgumentType]
        results.get("gradients"),  # pyright: ignore[reportArgumentType]
        f"Diagnostics: {cfg.model}",
        geometry=results.get("class-geometry"),  # pyright: ignore[reportArgumentType]
    )
