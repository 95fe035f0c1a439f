"""``mechscope patch``: activation (and attribution) patching from the command line."""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg, Sharding, ShardingArg
from mechscope.core.jobs import Outcome
from mechscope.interventions.choices import (
    BuiltinTask,
    PatchComponent,
    PatchDirection,
    TaskMetric,
)

if TYPE_CHECKING:
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Activation (and attribution) patching between clean and corrupted prompts.

    Patch activations between clean and corrupted prompts (equal token lengths) and measure
    the logit difference between --answer and --wrong (or the answer's loss or probability),
    normalised 0 = corrupted, 1 = clean. Residual, attention and MLP outputs are patched by
    layer and position; head components (z, q, k, v, pattern, attn_scores) by layer and head
    at all positions. Writes one result directory per component + report.html. Example:
    mechscope patch induction-2l --task copy-name --out results/patch
    """

    model: ModelArg
    out: OutArg
    """Output directory."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    task: BuiltinTask | None = None
    """A built-in prompt set (instead of --clean/--corrupted/--answer/--wrong)."""
    seed: int = 0
    """Seed of the induction task's random tokens."""
    clean: tuple[str, ...] = ()
    """Clean prompts."""
    corrupted: tuple[str, ...] = ()
    """Their corrupted twins (same count, same token lengths)."""
    answer: tuple[str, ...] = ()
    """Single-token answers: one, or one per pair."""
    wrong: tuple[str, ...] = ()
    """Single-token wrong answers: one, or one per pair."""
    sites: tuple[PatchComponent, ...] = (
        PatchComponent.RESID_PRE,
        PatchComponent.ATTN_OUT,
        PatchComponent.Z,
    )
    """Components to patch."""
    direction: PatchDirection = PatchDirection.DENOISING
    """Denoising (clean into corrupted) or noising (corrupted into clean)."""
    metric: TaskMetric = TaskMetric.LOGIT_DIFF
    """What is measured at the answer position."""
    attribution: bool = False
    """Also run attribution patching and report its correlation with exact patching."""
    max_rows: int = 64
    """Rows per forward pass (sites per pass = max_rows // prompts)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""
    sharding: ShardingArg = field(default_factory=Sharding)
    """Where the corpus runs: --workers, --executor, --address."""


def run(cfg: Config) -> Outcome:
    """Patch every requested component (and estimate by attribution): a result per site kind."""
    from mechscope.cli.common import load_text_model, sharding
    from mechscope.core.errors import MechscopeError
    from mechscope.core.sites import Component, every_site
    from mechscope.executors import sharded_patching
    from mechscope.interventions import (
        activation_patching,
        attribution_patching,
        copy_name_pairs,
        ioi_pairs,
        repeated_pairs,
        task_from_prompts,
    )
    from mechscope.interventions.activation import patching_hooks
    from mechscope.models import adapt

    components = [site.component for site in cfg.sites]
    if not components:
        raise MechscopeError("no --sites given; e.g. --sites resid_pre z")
    shards = sharding(cfg.model, cfg.loading, cfg.sharding)
    model = load_text_model(cfg.model, cfg.loading, "patch")
    if Component.MLP_OUT in components and model.cfg.attn_only:
        raise MechscopeError(
            "this model is attention-only: it has no mlp_out; drop it from --sites."
        )
    if cfg.task is BuiltinTask.INDUCTION:
        task = repeated_pairs(model, seed=cfg.seed)
    elif cfg.task is BuiltinTask.COPY_NAME:
        task = copy_name_pairs(model)
    elif cfg.task is BuiltinTask.IOI:
        task = ioi_pairs(model, template=0, seed=cfg.seed)
    elif cfg.clean and cfg.corrupted and cfg.answer and cfg.wrong:
        task = task_from_prompts(model, cfg.clean, cfg.corrupted, cfg.answer, cfg.wrong)
    else:
        raise MechscopeError("give --clean, --corrupted, --answer and --wrong (or --task).")
    n_layers, n_heads, n_pos = model.cfg.n_layers, model.cfg.n_heads, task.clean.tokens.shape[1]
    # Keys and values have their own heads: fewer than the queries' with grouped-query attention.
    n_kv_heads = adapt(model).n_key_value_heads
    by_component = {
        c: every_site(
            c, n_layers, n_heads=n_kv_heads if c in (Component.K, Component.V) else n_heads
        )
        if c.has_head_axis
        else every_site(c, n_layers, n_pos=n_pos)
        for c in components
    }
    # Cache once: both runs keep every hook point any component (or a chunk's start) reads.
    every = [s for sites in by_component.values() for s in sites]
    together = None
    if shards is not None:  # --workers: every site at once, shards of the pairs on workers
        recipe, executor = shards
        together = sharded_patching(recipe, task, every, executor, metric=cfg.metric,
                                    direction=cfg.direction, max_rows=cfg.max_rows,
                                    model=model)  # fmt: skip
    # Here the runs are needed without workers, and by attribution (one backward pass).
    needed = together is None or cfg.attribution
    runs = task.runs(model, cfg.metric, patching_hooks(model, every)) if needed else None
    results = {}
    first = 0
    for component, sites in by_component.items():
        name = component.name.lower()
        if together is not None:  # this component's sites of the one sharded job
            rows = slice(first, first + len(sites))
            result = replace(together, sites=together.sites[rows], values=together.values[rows])
            first += len(sites)
        else:
            assert runs is not None
            result = activation_patching(runs, sites, cfg.direction, max_rows=cfg.max_rows)
        results[name] = result.with_provenance(cfg, cfg.model)
        if cfg.attribution:
            assert runs is not None
            estimate = attribution_patching(runs, sites, cfg.direction)
            results[f"{name}_attribution"] = estimate.with_provenance(cfg, cfg.model)
    n_pairs = task.clean.tokens.shape[0]
    note = f"{task.name}: {n_pairs} prompt pairs of {n_pos} tokens (positions: the first pair)."
    return Outcome(results, {"note": note})


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """Clean and corrupted metric, the strongest sites, and attribution's agreement."""
    from mechscope.interventions.activation import result_summary
    from mechscope.interventions.attribution import correlation

    for name, result in outcome.results.items():
        if name.endswith("_attribution"):
            continue
        yield (
            f"{name}: clean {result.clean:.3f}, corrupted {result.corrupted:.3f} "  # pyright: ignore[reportAttributeAccessIssue]
            f"({result.metric})"  # pyright: ignore[reportAttributeAccessIssue]
        )
        for row in result_summary(result, 3):  # pyright: ignore[reportArgumentType]
            yield f"  {row['site']:<24} {row['normalised']:+.3f}"
        estimate = outcome.results.get(f"{name}_attribution")
        if estimate is not None:
            r = correlation(result.normalised, estimate.normalised)  # pyright: ignore[reportAttributeAccessIssue]
            yield f"  attribution patching: correlation with exact {r:.3f}"
    yield f"results: {cfg.out}; report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """A heatmap per site kind (and its attribution estimate)."""
    from mechscope.viz.patching import render_patching

    shown = {
        name.replace("_attribution", " (attribution)"): result
        for name, result in outcome.results.items()
    }
    return render_patching(shown, f"Patching {cfg.model}", outcome.context["note"])  # pyright: ignore[reportArgumentType]
