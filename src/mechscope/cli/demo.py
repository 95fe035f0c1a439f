"""``mechscope demo``: one sentence through a model, its attention in an offline page.

Default: the real pretrained all-MiniLM-L6-v2 (``minilm``). The table gives, per layer, the
attention (mean over heads and over every token) that lands on the first token ([CLS]), on
the last ([SEP]) and on punctuation: the quantities of Clark et al. 2019, "What does BERT look
at?", Fig. 2, where attention to [SEP] grows in the middle layers.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mechscope.cli.common import Loading, LoadingArg, OutArg

if TYPE_CHECKING:
    from mechscope.heads.patterns import SentenceAttention
    from mechscope.viz.report import Report


@dataclass(frozen=True, kw_only=True)
class Config:
    """One sentence's attention, per layer and head, in an offline page.

    Run one sentence through a model (default: the bundled all-MiniLM-L6-v2), print how much
    attention lands on the first token, the last token and punctuation per layer, and write
    report.html (every head in circuitsvis) with result.json and the tensors. Example:
    mechscope demo --sentence 'The cat sat on the mat.' --out results/demo
    """

    sentence: str = "The quick brown fox jumps over the lazy dog, and the dog does not mind."
    """The sentence to run."""
    model: str = "minilm"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out: OutArg = Path("results/demo")
    """Where result.json, tensors.safetensors and report.html go."""
    overwrite: bool = False
    """Replace results already in --out (the old ones stay until the new ones are complete)."""
    loading: LoadingArg = field(default_factory=Loading)
    """How the model is loaded: --device, --backend, --device-map."""


def run(cfg: Config) -> "SentenceAttention":
    """Run the sentence through the model."""
    from mechscope.cli.common import load_text_model
    from mechscope.heads.patterns import sentence_attention

    model = load_text_model(cfg.model, cfg.loading, "demo")
    return sentence_attention(model, cfg.sentence).with_provenance(cfg, cfg.model)


def summary(result: "SentenceAttention", cfg: Config) -> Iterator[str]:
    """Attention received per layer by the first and last tokens and punctuation."""
    mass = result.mass_by_layer()
    yield f"tokens: {' '.join(result.str_tokens)}"
    yield "attention received, mean over heads and tokens:"
    yield "layer  " + "  ".join(f"{name:>14}" for name in mass)
    for layer in range(result.patterns.shape[0]):
        yield f"{layer:>5}  " + "  ".join(f"{mass[name][layer]:>14.3f}" for name in mass)
    yield f"report: {cfg.out / 'report.html'}"
    yield f"tensors and JSON: {cfg.out}"


def report(result: "SentenceAttention", cfg: Config) -> "Report":
    """Every head in circuitsvis and the heatmap."""
    from mechscope.viz.attention import render_sentence_attention

    return render_sentence_attention(result, f"Attention of {cfg.model}")
