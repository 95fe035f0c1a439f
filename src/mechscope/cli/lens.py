"""``mechscope lens``: the logit (or a tuned) lens of one prompt."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg
from mechscope.core.jobs import Outcome

if TYPE_CHECKING:
    from mechscope.lens.logit import Trajectory
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """The logit lens (or a tuned lens) of one prompt, layer by layer.

    Read the residual stream after the embeddings and after every block through the model's
    final LayerNorm and unembedding: rank, log-prob and KL to the final prediction per
    layer. Prints the last position's table and writes result.json + tensors + report.html.
    Example: mechscope lens induction-2l --prompt 'def f(x): return x' --target ' '
    """

    model: ModelArg
    prompt: str
    """The prompt to read."""
    target: str | None = None
    """Score this single token at every position (default: each position's next token)."""
    k: int = 5
    """Top tokens kept per boundary and position."""
    tuned_lens: Path | None = None
    """A tuned lens directory (from `mechscope tuned-lens`); default: the logit lens."""
    out: OutArg = Path("results/lens")
    """Where result.json, tensors.safetensors and report.html go."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> Outcome:
    """The trajectory, and the tokenizer's strings for the summary and the report."""
    import torch

    from mechscope.cli.common import load_text_model
    from mechscope.lens.logit import lens_trajectory
    from mechscope.lens.tuned import TunedLens
    from mechscope.models import target_ids, tokenize

    model = load_text_model(cfg.model, cfg.loading, "lens")
    batch = tokenize(model, cfg.prompt)
    targets = None
    if cfg.target is not None:
        (target,) = target_ids(model, [cfg.target])
        targets = torch.full_like(batch.tokens, target)
    translator = TunedLens.load(cfg.tuned_lens) if cfg.tuned_lens else None
    trajectory = lens_trajectory(model, batch, targets, k=cfg.k, translator=translator)
    tokenizer = model.tokenizer
    assert tokenizer is not None  # tokenize() refused models without one

    def to_string(token: int) -> str:
        return str(tokenizer.decode([token]))

    context = {"to_string": to_string, "kind": "tuned" if translator else "logit",
               "last": int(batch.lengths[0]) - 1}  # fmt: skip
    return Outcome({"": trajectory.with_provenance(cfg, cfg.model)}, context)


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """Rank, log-prob, KL and the top tokens at the last position, boundary by boundary."""
    trajectory: Trajectory = outcome.main  # pyright: ignore[reportAssignmentType]
    to_string, last = outcome.context["to_string"], outcome.context["last"]
    target_id = int(trajectory.targets[0, last])
    yield (
        f"{outcome.context['kind']} lens at the last position "
        f"({to_string(int(trajectory.tokens[0, last]))!r}), target {to_string(target_id)!r}:"
    )
    yield f"{'boundary':<16} {'rank':>6} {'log-prob':>9} {'KL':>7}  top {cfg.k}"
    for b, label in enumerate(trajectory.labels):
        top = ", ".join(repr(to_string(t)) for t in trajectory.top_k_ids[b, 0, last].tolist())
        yield (
            f"{label:<16} {int(trajectory.rank[b, 0, last]):>6} "
            f"{float(trajectory.log_prob[b, 0, last]):>9.3f} "
            f"{float(trajectory.kl_to_final[b, 0, last]):>7.3f}  {top}"
        )
    yield f"report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """Every boundary and position of the trajectory."""
    from mechscope.viz.lens import render_lens

    title = f"{outcome.context['kind'].capitalize()} lens of {cfg.model}"
    return render_lens(outcome.main, outcome.context["to_string"], title)  # pyright: ignore[reportArgumentType]
