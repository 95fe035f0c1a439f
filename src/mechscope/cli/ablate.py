"""``mechscope ablate``: ablate heads together and one at a time; loss, JSON and report."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg, with_prompts
from mechscope.core.jobs import Outcome
from mechscope.interventions.choices import AblationType

if TYPE_CHECKING:
    from mechscope.interventions.ablation import AblationEffects
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Ablate heads together and one at a time; measure the next-token loss.

    Ablate the given heads together, and every head of the model on its own, and measure the
    mean next-token loss on the prompts. Writes result.json (one group per ablation) +
    tensors.safetensors + report.html. Example: mechscope ablate induction-2l --heads 1.1
    1.3 --how mean --out results/ablate
    """

    model: ModelArg
    heads: tuple[str, ...]
    """Heads as LAYER.HEAD, ablated together, e.g. 1.4 1.7."""
    out: OutArg
    """Output directory."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    how: AblationType = AblationType.ZERO
    """What replaces an ablated head's output."""
    seed: int = 0
    """Which reference prompt each prompt takes its activations from (resample)."""
    data: Path | None = None
    """Text file, one prompt per line (default: built-in prompts)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> Outcome:
    """The heads ablated together, then every head alone."""
    from mechscope.cli.common import load_text_model
    from mechscope.core.axes import HeadId
    from mechscope.core.errors import MechscopeError
    from mechscope.core.metrics import next_token_loss
    from mechscope.data.prompts import DEFAULT_PROMPTS, read_prompts
    from mechscope.interventions import ablation_effects
    from mechscope.interventions.ablation import check_heads
    from mechscope.models import adapt, tokenize

    try:
        heads = [HeadId.parse(h) for h in cfg.heads if h.strip()]
    except ValueError as error:
        raise MechscopeError(str(error)) from None
    if not heads:
        raise MechscopeError("no --heads given; e.g. --heads 1.4 1.7")
    prompts = read_prompts(cfg.data) if cfg.data else list(DEFAULT_PROMPTS)
    config = with_prompts(cfg, prompts)
    model = load_text_model(cfg.model, cfg.loading, "ablate")
    adapt(model).require_unembedding("ablate (it measures the next-token loss)")
    check_heads(model, heads)
    batch = tokenize(model, prompts)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    every = [HeadId(layer, h) for layer in range(n_layers) for h in range(n_heads)]
    groups = [heads, *[[h] for h in every]]
    effects = ablation_effects(
        model, batch, next_token_loss(batch), groups, cfg.how, batch, seed=cfg.seed
    )
    context = {"n_prompts": len(prompts), "n_layers": n_layers, "n_heads": n_heads}
    return Outcome({"": effects.with_provenance(config, cfg.model)}, context)


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """The joint effect and the five heads that matter most alone."""
    effects: AblationEffects = outcome.main  # pyright: ignore[reportAssignmentType]
    joint = effects.to_rows()[0]
    yield f"next-token loss on {outcome.context['n_prompts']} prompts: clean {effects.clean:.4f}"
    yield (f"  {joint['head']} {cfg.how.value}-ablated together: {joint['ablated']:.4f} "
           f"({joint['change']:+.4f})")  # fmt: skip
    singles = zip(effects.labels[1:], effects.change[1:].tolist(), strict=True)
    for label, change in sorted(singles, key=lambda x: -x[1])[:5]:
        yield f"  alone {label}: {change:+.4f}"
    yield f"results: {cfg.out}; report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """Every head's effect on the layer x head grid."""
    from mechscope.viz.patching import render_ablation

    c = outcome.context
    note = f"Next-token loss on {c['n_prompts']} prompts of {cfg.model}."
    title = f"Ablating heads of {cfg.model}"
    return render_ablation(outcome.main, c["n_layers"], c["n_heads"], title, note)  # pyright: ignore[reportArgumentType]
