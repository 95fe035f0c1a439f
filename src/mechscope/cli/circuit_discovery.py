"""``mechscope circuit-discovery``: edge attribution (EAP, EAP-IG) and the circuit it finds."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg
from mechscope.core.jobs import Outcome
from mechscope.interventions.choices import BuiltinTask, TaskMetric

if TYPE_CHECKING:
    from mechscope.core.results import Result
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Score every edge between components (EAP or EAP-IG) and find the circuit.

    Nodes are the input, every head and MLP, and the logits; every edge gets its attribution
    score on clean/corrupted prompt pairs. The top edges are kept at a grid of sizes with the
    rest ablated (resample: the corrupted run's activation; mean: its mean over prompts) and
    the faithfulness curve picks the smallest circuit reaching --target. Optionally: ACDC at
    --acdc-tau (exact, one forward pass per edge tried: small models) and the exact effect of
    the top --exact edges ablated one at a time, with the rank correlation of the scores.
    Writes edges/, circuit/, (acdc/, exact/) and report.html. Example:
    mechscope circuit-discovery induction-2l --task induction --out results/circuit
    """

    model: ModelArg
    out: OutArg
    """Output directory."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    task: BuiltinTask | None = None
    """A built-in prompt set (instead of --clean/--corrupted/--answer/--wrong)."""
    prompts: int = 16
    """Prompt pairs of a built-in task (induction and IOI)."""
    seed: int = 0
    """Seed of the built-in tasks' random tokens or names."""
    clean: tuple[str, ...] = ()
    """Clean prompts."""
    corrupted: tuple[str, ...] = ()
    """Their corrupted twins (same count, same token lengths)."""
    answer: tuple[str, ...] = ()
    """Single-token answers: one, or one per pair."""
    wrong: tuple[str, ...] = ()
    """Single-token wrong answers: one, or one per pair."""
    metric: TaskMetric = TaskMetric.LOGIT_DIFF
    """What is measured at the answer position."""
    method: str = "eap-ig"
    """Edge scores: eap (one gradient) or eap-ig (integrated gradients over --steps)."""
    steps: int = 5
    """EAP-IG's interpolation steps."""
    ablation: str = "resample"
    """What ablated edges carry: resample (the corrupted run) or mean (over its prompts)."""
    target: float = 0.8
    """Faithfulness the chosen circuit must reach."""
    acdc_tau: float | None = None
    """Also run ACDC with this threshold on the metric (slow: for small models)."""
    exact: int = 0
    """Also ablate the top N edges one at a time (exact effects; their rank correlation)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def _task(cfg: Config, model):  # noqa: ANN001, ANN202 - torch-free module
    from mechscope.core.errors import MechscopeError
    from mechscope.interventions import (
        copy_name_pairs,
        ioi_pairs,
        repeated_pairs,
        task_from_prompts,
    )

    if cfg.task is BuiltinTask.INDUCTION:
        return repeated_pairs(model, n_prompts=cfg.prompts, seed=cfg.seed)
    if cfg.task is BuiltinTask.COPY_NAME:
        return copy_name_pairs(model)
    if cfg.task is BuiltinTask.IOI:
        return ioi_pairs(model, cfg.prompts, template=0, seed=cfg.seed)
    if cfg.clean and cfg.corrupted and cfg.answer and cfg.wrong:
        return task_from_prompts(model, cfg.clean, cfg.corrupted, cfg.answer, cfg.wrong)
    raise MechscopeError("give --clean, --corrupted, --answer and --wrong (or --task).")


def run(cfg: Config) -> Outcome:
    """Score the edges, find the circuit (and ACDC's, and exact effects when asked)."""
    from mechscope.circuits import (
        Ablation,
        EdgeMethod,
        acdc,
        discover_circuit,
        edge_attribution,
        edge_effects,
    )
    from mechscope.cli.common import load_text_model
    from mechscope.core.errors import MechscopeError

    try:
        method, ablation = EdgeMethod(cfg.method), Ablation(cfg.ablation)
    except ValueError:
        raise MechscopeError("--method is eap or eap-ig; --ablation is resample or mean.") from None
    if not 0 < cfg.target <= 1:
        raise MechscopeError(f"--target is a faithfulness in (0, 1]; got {cfg.target}.")
    if cfg.exact < 0 or cfg.prompts < 1:
        raise MechscopeError("--exact must be >= 0 and --prompts >= 1.")
    model = load_text_model(cfg.model, cfg.loading, "circuit-discovery")
    pairs = _task(cfg, model)
    metric = pairs.metric(cfg.metric)
    scores = edge_attribution(model, pairs, metric, method=method, steps=cfg.steps)
    results: dict[str, Result] = {"edges": scores.with_provenance(cfg, cfg.model)}
    found = discover_circuit(model, pairs, scores, target=cfg.target, ablation=ablation,
                             metric=metric)  # fmt: skip
    results["circuit"] = found.with_provenance(cfg, cfg.model)
    if cfg.acdc_tau is not None:
        exact = acdc(model, pairs, tau=cfg.acdc_tau, metric=metric, ablation=ablation)
        results["acdc"] = exact.with_provenance(cfg, cfg.model)
    if cfg.exact:
        top = [name for name, _ in scores.top(cfg.exact)]
        effects = edge_effects(model, pairs, top, scores=scores, metric=metric, ablation=ablation)
        results["exact"] = effects.with_provenance(cfg, cfg.model)
    n_pairs, n_pos = pairs.clean.tokens.shape
    note = f"{pairs.name}: {n_pairs} prompt pairs of {n_pos} tokens; {scores.n_prompts} scored."
    return Outcome(results, {"note": note})


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """The metric clean and corrupted, the top edges, the circuit and its faithfulness."""
    scores, found = outcome.results["edges"], outcome.results["circuit"]
    yield (f"{scores.method} on {scores.metric}: clean {scores.clean_value:.3f}, "  # pyright: ignore[reportAttributeAccessIssue]
           f"corrupted {scores.corrupted_value:.3f}; {found.n_edges} edges")  # pyright: ignore[reportAttributeAccessIssue]  # fmt: skip
    for name, value in scores.top(5):  # pyright: ignore[reportAttributeAccessIssue]
        yield f"  {name:<28} {value:+.4f}"
    chosen = found.chosen  # pyright: ignore[reportAttributeAccessIssue]
    if chosen:
        yield (f"circuit: {chosen} edges reach faithfulness {found.faithfulness_at(chosen):.3f} "  # pyright: ignore[reportAttributeAccessIssue]
               f"(target {cfg.target}); nodes {', '.join(found.nodes()) or '-'}")  # pyright: ignore[reportAttributeAccessIssue]  # fmt: skip
    else:
        yield f"no measured size reaches faithfulness {cfg.target}"
    if "acdc" in outcome.results:
        a = outcome.results["acdc"]
        yield (f"ACDC (tau {cfg.acdc_tau}): {len(a.edges)} edges, faithfulness "  # pyright: ignore[reportAttributeAccessIssue]
               f"{a.faithfulness:.3f}, {a.forward_passes} forward passes")  # pyright: ignore[reportAttributeAccessIssue]  # fmt: skip
    if "exact" in outcome.results:
        e = outcome.results["exact"]
        yield f"exact single-edge ablation of {len(e.edges)} edges: Spearman {e.spearman():.3f}"  # pyright: ignore[reportAttributeAccessIssue]
    yield f"results: {cfg.out}; report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """Faithfulness against size, the top edges, the circuit, ACDC and exact effects."""
    from mechscope.viz.circuits import render_circuit_discovery

    return render_circuit_discovery(dict(outcome.results), f"Circuit discovery on {cfg.model}",
                                    outcome.context["note"])  # fmt: skip
