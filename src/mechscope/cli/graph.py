"""``mechscope graph``: the attribution graph of one prompt over transcoder features."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import tyro

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg
from mechscope.core.jobs import Outcome

if TYPE_CHECKING:
    from mechscope.circuits.tracing import AttributionGraph, GraphValidation
    from mechscope.core.results import Result
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Trace one prompt's prediction through transcoder features (an attribution graph).

    Every MLP is read through its transcoder (from `mechscope sae train MODEL --transcoder`;
    an MLP without one is an error node per position), attention patterns and normalisation
    scales are frozen, and every edge between input tokens, active features, error nodes and
    the target logit (minus --wrong's, when given) is its exact direct effect. Features are
    explored by influence up to --max-features, then pruned by --node-threshold and
    --edge-threshold. The --validate most influential features are then ablated one at a
    time in the real model and the measured change is compared with the graph's prediction.
    Writes graph/, validation/ and report.html (an interactive graph: hover a node, click it
    for its paths). Example: mechscope graph smollm2-135m --transcoders results/tc
    --prompt "The capital of France is" --answer " Paris" --out results/graph
    """

    model: ModelArg
    out: OutArg
    """Output directory."""
    transcoders: Annotated[Path, tyro.conf.arg(metavar="DIR")]
    """Directory of transcoders (transcoder-LAYER/ subdirectories), or one transcoder."""
    prompt: str
    """The prompt (the model's BOS token is put first as usual)."""
    answer: str | None = None
    """The target token (default: the model's top prediction after the prompt)."""
    wrong: str | None = None
    """A token whose logit is subtracted from the answer's (a logit difference)."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    max_features: int = 256
    """Features given their own inputs (explored by influence)."""
    batch_size: int = 32
    """Features explored per batched backward pass."""
    node_threshold: float = 0.8
    """Share of the features' influence the kept features hold."""
    edge_threshold: float = 0.98
    """Share of the edges' scores the kept edges hold."""
    validate: int = 20
    """Features ablated in the real model to check the graph (0: none)."""
    validate_by: str = "influence"
    """Which features are checked: the most influential (influence) or those of largest
    predicted effect (total)."""
    contexts: int = 0
    """Held-out text windows read for each graph feature's top contexts (0: none)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> Outcome:
    """Build, prune and check the graph."""
    from mechscope.circuits import Replacement, Target, attribution_graph, validate_graph
    from mechscope.cli.common import load_text_model
    from mechscope.core.errors import MechscopeError
    from mechscope.features import load_transcoders
    from mechscope.models.tokens import target_ids

    if cfg.validate < 0 or cfg.contexts < 0:
        raise MechscopeError("--validate and --contexts must be at least 0.")
    if cfg.validate_by not in ("influence", "total"):
        raise MechscopeError(f"--validate-by is influence or total, not {cfg.validate_by!r}.")
    model = load_text_model(cfg.model, cfg.loading, "graph")
    transcoders = load_transcoders(cfg.transcoders, device=str(model.cfg.device or "cpu"))
    tokens = model.to_tokens(cfg.prompt)[0]
    replacement = Replacement.of(model, transcoders, tokens)
    answer = (target_ids(model, [cfg.answer], "--answer")[0] if cfg.answer is not None
              else int(replacement.logits[-1].argmax()))  # fmt: skip
    wrong = target_ids(model, [cfg.wrong], "--wrong")[0] if cfg.wrong is not None else None
    target = Target(answer, wrong)
    graph = attribution_graph(replacement, target, max_features=cfg.max_features,
                              batch_size=cfg.batch_size, node_threshold=cfg.node_threshold,
                              edge_threshold=cfg.edge_threshold)  # fmt: skip
    results: dict[str, Result] = {"graph": graph.with_provenance(cfg, cfg.model)}
    if cfg.validate:
        check = validate_graph(replacement, graph, target, n_features=cfg.validate,
                               by=cfg.validate_by)  # fmt: skip
        results["validation"] = check.with_provenance(cfg, cfg.model)
    contexts = _contexts(model, transcoders, graph, cfg.contexts) if cfg.contexts else {}
    return Outcome(results, {"contexts": contexts, "layers": sorted(transcoders)})


def _contexts(model, transcoders, graph, windows: int) -> dict[str, str]:  # noqa: ANN001
    """Each graph feature's top contexts on ``windows`` held-out windows (hover text)."""
    import html

    from mechscope.circuits.tracing import parse_feature
    from mechscope.data import load_corpus
    from mechscope.features import read_features
    from mechscope.features.config import SaeRecipe
    from mechscope.features.train import corpus_windows_for

    corpus = load_corpus(None)
    recipe = SaeRecipe(n_ctx=64)
    text = corpus_windows_for(model, corpus.held_out.tobytes(), windows * 63, recipe)
    wanted: dict[int, set[int]] = {}
    for name in graph.nodes:
        if name.startswith("f"):
            layer, feature, _ = parse_feature(name)
            wanted.setdefault(layer, set()).add(feature)
    out = {}
    for layer, features in wanted.items():
        transcoder = transcoders[layer]
        reading = read_features(model, transcoder, transcoder.cfg.metadata.hook_name, text, k=3,
                                progress=False)  # fmt: skip
        for feature in features:
            shown = []
            for rank in range(3):
                if float(reading.top_values[feature, rank]) <= 0:
                    break
                shown.append("".join(f"<b>{html.escape(t)}</b>" if here else html.escape(t)
                                     for t, here in reading.context(feature, rank)))  # fmt: skip
            for name in graph.nodes:
                if name.startswith(f"f{layer}.{feature}@"):
                    out[name] = "<br>".join(shown) if shown else "(silent on the windows read)"
    return out


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """The target, the graph's size and scores, its top features and the real checks."""
    graph = cast("AttributionGraph", outcome.results["graph"])
    scores = graph.scores
    yield (f"{graph.target} = {graph.value:.3f}: {graph.n_active} active features, "
           f"{graph.n_explored} explored; kept {len(graph.nodes)} nodes; replacement score "
           f"{scores['replacement_pruned']:.3f}, completeness "
           f"{scores['completeness_pruned']:.3f}")  # fmt: skip
    for name, value in graph.top(5):
        label = graph.labels[graph.nodes.index(name)] if graph.labels else ""
        yield f"  {name:<16} influence {value:.4f}  {label}"
    if "validation" in outcome.results:
        check = cast("GraphValidation", outcome.results["validation"])
        yield (f"real-model ablation of {len(check.features)} features: r = "
               f"{check.correlation('total'):.3f} (graph), {check.correlation('direct'):.3f} "
               "(direct effect only)")  # fmt: skip
    yield f"results: {cfg.out}; report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """The interactive graph, its top features and the real-model checks."""
    from mechscope.viz.graphs import render_attribution_graph

    note = f"Transcoders at layers {_ranges(outcome.context['layers'])}."
    return render_attribution_graph(
        outcome.results["graph"],  # pyright: ignore[reportArgumentType]
        validation=outcome.results.get("validation"),  # pyright: ignore[reportArgumentType]
        contexts=outcome.context["contexts"], title=f"Attribution graph on {cfg.model}", note=note,
    )  # fmt: skip


def _ranges(layers: list[int]) -> str:
    """``0-29`` or ``1, 3, 5``."""
    if layers and layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 2:
        return f"{layers[0]}-{layers[-1]}"
    return ", ".join(map(str, layers)) or "none"
