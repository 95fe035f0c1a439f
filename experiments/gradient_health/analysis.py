"""Post-LN vs pre-LN gradient norms at initialisation: measurement, Result, report."""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.gradient_health.config import Config
from mechscope.core import Result, TokenBatch, regroup_v1
from mechscope.diagnostics import gradient_norms
from mechscope.models import Model, TinyConfig, load_model
from mechscope.viz import Report, line_chart

KINDS = {"post-LN encoder (BERT style)": True, "pre-LN decoder": False}


@dataclass(frozen=True)
class GradientHealthResult(Result):
    """Per kind of model: per-block gradient norm for each seed."""

    kind: ClassVar[str] = "gradient-health"
    norms: dict[str, Float[Tensor, "layer seed"]]
    flags: dict[str, list[list[str]]]
    """Per kind, each seed's flags."""

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return regroup_v1(
            tensors, data, "norms", {k: f"norms_{i}" for i, k in enumerate(data["kinds"])}
        )

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per block: mean norm of each kind."""
        import pandas as pd

        return pd.DataFrame({name: norms.mean(-1).tolist() for name, norms in self.norms.items()})


def reconstruction_loss(model: Model, batch: TokenBatch) -> Tensor:
    """Cross-entropy of each input token under the output logits at its own position."""
    logits = model(batch.tokens)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.tokens.flatten())


def run(cfg: Config) -> GradientHealthResult:
    """Measure (the runner saves the result and writes ``report.html``)."""
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg.d_vocab, (cfg.n_prompts, cfg.length), generator=generator)
    batch = TokenBatch.full(tokens)
    norms: dict[str, list[Tensor]] = {name: [] for name in KINDS}
    flags: dict[str, list[list[str]]] = {name: [] for name in KINDS}
    for seed in range(cfg.seeds):
        for name, encoder in KINDS.items():
            model = load_model(TinyConfig(
                encoder=encoder, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
                d_model=cfg.d_model, d_vocab=cfg.d_vocab, n_ctx=max(cfg.length, 8),
                attn_only=False, seed=seed,
            ), device="cpu")  # fmt: skip
            grads = gradient_norms(model, batch, reconstruction_loss)
            norms[name].append(grads.per_layer)
            flags[name].append(grads.flags())
    return GradientHealthResult(
        {name: torch.stack(values, dim=1) for name, values in norms.items()}, flags
    ).with_provenance(cfg, "random TinyConfig models")


def report(result: GradientHealthResult, cfg: Config) -> Report:
    """Per-block gradient norms of both kinds, mean ± s.e. over seeds."""
    report = Report("Gradient norms by layer at initialisation: post-LN vs pre-LN")
    report.paragraph(
        f"{cfg.seeds} random models of each kind ({cfg.n_layers} blocks, {cfg.n_heads} heads, "
        f"d_model {cfg.d_model}, MLPs), the same {cfg.n_prompts} x {cfg.length} random tokens; "
        "loss: reconstructing each input token from the output logits. Norm of each block's "
        "gradient (attention, MLP and norms together); error bars: standard error over seeds. "
        "Xiong et al. 2020: post-LN gradients grow towards the last layer, pre-LN stay level."
    )
    x = list(range(cfg.n_layers))
    series = {name: (x, norms.mean(-1).tolist()) for name, norms in result.norms.items()}
    n = cfg.seeds
    errors = {name: (norms.std(-1) / n**0.5).tolist() if n > 1 else [0.0] * len(x)
              for name, norms in result.norms.items()}  # fmt: skip
    report.figure(line_chart(series, title="Gradient norm per block", x_title="block",
                             y_title="norm", errors=errors))  # fmt: skip
    return report
