"""``mechscope attribute``: direct logit attribution of one prompt's answer."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, ModelArg, OutArg
from mechscope.core.jobs import Outcome

if TYPE_CHECKING:
    from mechscope.circuits.direct import DirectAttribution
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """Which head or MLP writes the answer into the stream: direct logit attribution.

    Split the final residual stream into the embeddings, every head's output and every MLP's
    output, read each through the final normalisation (its scale frozen at this run's value)
    along the answer's unembedding direction (minus the wrong token's), at the last position.
    Prints the largest parts and writes result.json + tensors + report.html (the layer x head
    grid, part x position, the conveyor belt). Example:
    mechscope attribute smollm2-135m --prompt 'The capital of France is' --answer ' Paris'
    """

    model: ModelArg
    prompt: str
    """The prompt."""
    answer: str
    """The answer token (one token, e.g. ' Paris')."""
    wrong: str | None = None
    """A wrong token: attribute the logit difference answer - wrong."""
    top: int = 10
    """Parts printed."""
    out: OutArg = Path("results/attribute")
    """Where result.json, tensors.safetensors and report.html go."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> Outcome:
    """The direct logit attribution, and the tokenizer's strings for the report."""
    import torch

    from mechscope.circuits.direct import direct_logit_attribution
    from mechscope.cli.common import load_text_model
    from mechscope.models import target_ids, tokenize

    model = load_text_model(cfg.model, cfg.loading, "attribute")
    batch = tokenize(model, cfg.prompt)
    ids = target_ids(model, [cfg.answer] + ([cfg.wrong] if cfg.wrong is not None else []))
    answers = torch.tensor(ids[:1])
    wrong = torch.tensor(ids[1:]) if cfg.wrong is not None else None
    result = direct_logit_attribution(model, batch, answers, wrong).with_provenance(cfg, cfg.model)
    tokenizer = model.tokenizer
    assert tokenizer is not None  # tokenize() refused models without one

    def text(token: int) -> str:
        return str(tokenizer.decode([token]))

    return Outcome({"": result}, {"text": text, "last": int(batch.lengths[0]) - 1})


def _what(cfg: Config) -> str:
    return repr(cfg.answer) + (f" - {cfg.wrong!r}" if cfg.wrong is not None else "")


def summary(outcome: Outcome, cfg: Config) -> Iterator[str]:
    """The largest parts at the last position."""
    result: DirectAttribution = outcome.main  # pyright: ignore[reportAssignmentType]
    last = outcome.context["last"]
    yield (f"direct logit attribution of {_what(cfg)} at the last position "
           f"(logit {float(result.logit[0, last]):.3f}; parts sum to it within "
           f"{result.error():.1e}):")  # fmt: skip
    for part, mean, _ in result.ranked(cfg.top):
        yield f"  {part:<16} {mean:>9.3f}"
    yield f"report: {cfg.out / 'report.html'}"


def report(outcome: Outcome, cfg: Config) -> "Report":
    """Every part at every position."""
    from mechscope.viz.circuits import render_attribution

    title = f"Direct logit attribution: {cfg.model}, {_what(cfg)}"
    return render_attribution(outcome.main, outcome.context["text"], title)  # pyright: ignore[reportArgumentType]
