"""The embedded demo: one sentence through a model, its attention patterns in an offline page.

Default: the real pretrained all-MiniLM-L6-v2 (``minilm``). The table gives, per layer, the
attention (mean over heads and over every token) that lands on the first token ([CLS]), on
the last ([SEP]) and on punctuation: the quantities of Clark et al. 2019, "What does BERT look
at?", Fig. 2, where attention to [SEP] grows in the middle layers.
"""

import string
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.attention import attention_mass, attention_patterns
from mechscope.models import is_encoder, load_model
from mechscope.results import load_result, save_result
from mechscope.tokens import tokenize
from mechscope.viz import Report, attention_heads_view

PUNCTUATION = set(string.punctuation)


@dataclass(frozen=True, kw_only=True)
class Config:
    """What the demo runs."""

    sentence: str = "The quick brown fox jumps over the lazy dog, and the dog does not mind."
    """The sentence to run."""
    model: str = "minilm"
    """Model spec, as `mechscope.models.load_model` takes it."""
    out_dir: Path = Path("results/demo")
    """Where result.json, tensors and report.html go."""


@dataclass(frozen=True)
class Result:
    """Attention patterns of one sentence, with the summary the demo prints."""

    config: Config
    str_tokens: list[str]
    """The sentence's tokens as strings, special tokens included."""
    patterns: Float[Tensor, "layer head dest_pos src_pos"]
    """Attention from each destination token to each source token."""
    causal: bool
    """Whether the model is a decoder (patterns are lower-triangular)."""
    targets: dict[str, list[bool]] = field(init=False)
    """Named sets of source tokens whose received attention the summary reports."""

    def __post_init__(self) -> None:
        n = len(self.str_tokens)
        if self.patterns.ndim != 4 or self.patterns.shape[-2:] != (n, n):
            raise ValueError(f"patterns {tuple(self.patterns.shape)} do not match {n} tokens")
        targets = {
            f"first {self.str_tokens[0]}": [i == 0 for i in range(n)],
            f"last {self.str_tokens[-1]}": [i == n - 1 for i in range(n)],
            "punctuation": [t.strip() in PUNCTUATION and t.strip() != "" for t in self.str_tokens],
        }
        object.__setattr__(self, "targets", targets)

    def mass_by_layer(self) -> dict[str, list[float]]:
        """Per target set, the attention it receives at each layer (mean over heads, tokens)."""
        mask = torch.ones(1, len(self.str_tokens), dtype=torch.bool)
        out = {}
        for name, chosen in self.targets.items():
            per_head = attention_mass(self.patterns[None], torch.tensor([chosen]), mask)
            out[name] = per_head.mean(dim=-1).tolist()
        return out

    def save(self, directory: str | Path) -> Path:
        """Write result.json and tensors.safetensors into ``directory``."""
        config = {k: str(v) for k, v in asdict(self.config).items()}
        meta = {"config": config, "str_tokens": self.str_tokens, "causal": self.causal}
        return save_result(directory, {"patterns": self.patterns}, meta)

    @classmethod
    def load(cls, directory: str | Path) -> "Result":
        """Read back what `save` wrote."""
        tensors, meta = load_result(directory)
        c = meta["config"]
        config = Config(sentence=c["sentence"], model=c["model"], out_dir=Path(c["out_dir"]))
        return cls(config, meta["str_tokens"], tensors["patterns"], meta["causal"])


def run(cfg: Config) -> Result:
    """Run the sentence, save the result and write ``report.html`` under ``cfg.out_dir``."""
    model = load_model(cfg.model)
    batch = tokenize(model, cfg.sentence)
    patterns = attention_patterns(model, batch)[0]
    str_tokens = [str(model.tokenizer.decode([t])) for t in batch.tokens[0].tolist()]  # type: ignore[union-attr]
    result = Result(cfg, str_tokens, patterns, causal=not is_encoder(model))
    result.save(cfg.out_dir)
    render(result).save(cfg.out_dir / "report.html")
    return result


def render(result: Result) -> Report:
    """The demo's page: summary table, then every head of every layer in circuitsvis."""
    report = Report(f"Attention of {result.config.model}")
    report.paragraph(f"Sentence: {result.config.sentence}")
    report.heading("Where attention goes, by layer")
    report.paragraph(
        "Mean over heads and over every destination token of the attention that lands on "
        "each set of source tokens (Clark et al. 2019, Fig. 2).",
        note=True,
    )
    mass = result.mass_by_layer()
    n_layers = result.patterns.shape[0]
    rows = [[layer, *(mass[name][layer] for name in mass)] for layer in range(n_layers)]
    report.table(["layer", *mass], rows)
    for layer in range(n_layers):
        report.heading(f"Layer {layer}", level=3)
        names = [f"L{layer}H{h}" for h in range(result.patterns.shape[1])]
        report.view(
            attention_heads_view(
                result.str_tokens, result.patterns[layer], names, causal=result.causal
            )
        )
    return report
