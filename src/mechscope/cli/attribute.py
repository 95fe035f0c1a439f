"""``mechscope attribute``: direct logit attribution of one prompt's answer."""

from dataclasses import dataclass
from pathlib import Path

from mechscope.cli.common import DeviceArg, ModelArg, OutArg, say


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
    device: DeviceArg = None
    """Torch device (default: CUDA when available, else CPU)."""


def run(cfg: Config) -> int:
    """Attribute, print the largest parts, save the result and the report."""
    import torch

    from mechscope.circuits.direct import direct_logit_attribution
    from mechscope.cli.common import load_text_model
    from mechscope.models import target_ids, tokenize
    from mechscope.viz.circuits import render_attribution

    model = load_text_model(cfg.model, cfg.device, "attribute")
    batch = tokenize(model, cfg.prompt)
    ids = target_ids(model, [cfg.answer] + ([cfg.wrong] if cfg.wrong is not None else []))
    answers = torch.tensor(ids[:1])
    wrong = torch.tensor(ids[1:]) if cfg.wrong is not None else None
    result = direct_logit_attribution(model, batch, answers, wrong).with_provenance(cfg, cfg.model)
    tokenizer = model.tokenizer
    assert tokenizer is not None  # tokenize() refused models without one

    def text(token: int) -> str:
        return str(tokenizer.decode([token]))

    last = int(batch.lengths[0]) - 1
    what = repr(cfg.answer) + (f" - {cfg.wrong!r}" if cfg.wrong is not None else "")
    say(f"direct logit attribution of {what} at the last position "
        f"(logit {float(result.logit[0, last]):.3f}; parts sum to it within "
        f"{result.error():.1e}):")  # fmt: skip
    for part, mean, _ in result.ranked(cfg.top):
        say(f"  {part:<16} {mean:>9.3f}")
    result.save(cfg.out)
    report = render_attribution(result, text, f"Direct logit attribution: {cfg.model}, {what}")
    say(f"report: {report.save(cfg.out / 'report.html')}")
    return 0
