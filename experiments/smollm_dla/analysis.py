"""Direct logit attribution in a real LM: measurement (`run`), Result, report."""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.smollm_dla.config import Config
from experiments.smollm_facts.analysis import FRANCE, single_token_facts
from mechscope.circuits import direct_logit_attribution, head_grid, weight_circuits
from mechscope.core import Result, regroup_v1
from mechscope.data import repeated_random_tokens
from mechscope.heads import HeadKind, detect_heads
from mechscope.interventions import ioi_pairs
from mechscope.lens import lens_trajectory
from mechscope.models import Model, adapt, load_model, tokenize
from mechscope.viz import Report, conveyor_belt, heatmap, line_chart


@dataclass(frozen=True)
class DlaResult(Result):
    """Per task, every part's direct effect at the answer position, per prompt."""

    kind: ClassVar[str] = "smollm-dla"
    labels: list[str]
    values: dict[str, Float[Tensor, "component prompt"]]
    """Per task (facts, ioi): each part's direct effect on the answer (difference)."""
    belt: list[float]
    """Running direct logit of ' Paris' for the France prompt, part by part."""
    belt_labels: list[str]
    lens_rank: list[int]
    """Rank of ' Paris' by boundary under the logit lens, same prompt."""
    copying: list[dict[str, Any]]
    """The strongest induction heads: induction score and OV copying score."""
    copying_all: Float[Tensor, "layer head"]
    errors: dict[str, float]
    """Per task: largest |sum of parts - logit| (the exactness check)."""

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return regroup_v1(tensors, data, "values", {t: f"values_{t}" for t in data["tasks"]})

    def _summary(self) -> dict[str, Any]:
        return {"top": self.top}

    @property
    def top(self) -> dict[str, list[dict[str, Any]]]:
        """Per task, the 8 largest parts by |mean|, with standard errors."""
        tables = {}
        for task, values in self.values.items():
            mean, n = values.mean(-1), values.shape[-1]
            sem = values.std(-1) / n**0.5
            order = mean.abs().argsort(descending=True)[:8].tolist()
            tables[task] = [{"part": self.labels[i], "mean": float(mean[i]),
                             "sem": float(sem[i])} for i in order]  # fmt: skip
        return tables

    def head_grid(self, task: str, n_layers: int, n_heads: int) -> Tensor:
        """Mean direct effect per head as a layer x head grid."""
        return head_grid(self.labels, self.values[task].mean(-1), n_layers, n_heads)

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per task and part: mean direct effect."""
        import pandas as pd

        return pd.DataFrame([{"task": task, "part": label, "mean": float(values[i].mean())}
                             for task, values in self.values.items()
                             for i, label in enumerate(self.labels)])  # fmt: skip


def _attribute_chunks(
    model: Model, prompts: list[str], answers: Tensor, batch_size: int
) -> tuple[list[str], Tensor, float]:
    """DLA of each answer at its prompt's last position, a chunk of prompts at a time."""
    values, error = [], 0.0
    labels: list[str] = []
    for start in range(0, len(prompts), batch_size):
        rows = slice(start, start + batch_size)
        result = direct_logit_attribution(model, tokenize(model, prompts[rows]), answers[rows])
        labels, error = result.labels, max(error, result.error())
        values.append(result.at_last())
    return labels, torch.cat(values, dim=1), error


def run(cfg: Config) -> DlaResult:
    """Measure (the runner saves the result and writes ``report.html``)."""
    model = load_model(cfg.model)
    n_heads = model.cfg.n_heads
    # Facts the model answers at top-1.
    usable, _ = single_token_facts(model)
    prompts = [fact.prompt for fact, _ in usable]
    answers = torch.tensor([answer for _, answer in usable])
    labels, fact_values, fact_error = _attribute_chunks(model, prompts, answers, cfg.batch_size)
    kept = []
    for start in range(0, len(prompts), cfg.batch_size):
        batch = tokenize(model, prompts[start : start + cfg.batch_size])
        with torch.no_grad():
            logits = model(batch.tokens, **adapt(model).forward_kwargs(batch))
        last = logits[torch.arange(len(batch.tokens)), batch.lengths - 1].argmax(-1).cpu()
        kept += (last == answers[start : start + cfg.batch_size]).tolist()
    fact_values = fact_values[:, torch.tensor(kept)]
    # IOI: logit difference IO - S.
    pairs = ioi_pairs(model, cfg.ioi_prompts)
    ioi = direct_logit_attribution(model, pairs.clean, pairs.answers, pairs.wrong)
    # The conveyor belt and the logit lens of the France prompt.
    france = tokenize(model, FRANCE)
    (paris,) = [a for (f, a) in usable if f.prompt == FRANCE]
    belt_result = direct_logit_attribution(model, france, torch.tensor([paris]))
    belt_labels, belt = conveyor_belt(belt_result)
    lens = lens_trajectory(model, france, torch.full_like(france.tokens, paris), k=1)
    lens_rank = lens.rank[:, 0, -1].tolist()
    # Copying scores of the induction heads.
    start = adapt(model).start_id
    rows = repeated_random_tokens(cfg.induction_rows, 20, model.cfg.d_vocab, start, seed=0)
    scores = detect_heads(model, rows.tolist(), "induction", progress=False)
    induction = scores.score(HeadKind.INDUCTION)
    circuits = weight_circuits(model, composition=False)
    order = induction.flatten().argsort(descending=True)[:6].tolist()
    copying = [{"head": f"{layer}.{head}", "induction": float(induction[layer, head]),
                "copying": float(circuits.copying[layer, head])}
               for layer, head in (divmod(i, n_heads) for i in order)]  # fmt: skip
    return DlaResult(
        labels=labels,
        values={"facts": fact_values, "ioi": ioi.at_last()},
        belt=belt,
        belt_labels=belt_labels,
        lens_rank=[int(r) for r in lens_rank],
        copying=copying,
        copying_all=circuits.copying,
        errors={"facts": fact_error, "ioi": ioi.error(), "france": belt_result.error()},
    ).with_provenance(cfg, cfg.model)


def report(result: DlaResult, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The page."""
    n_layers, n_heads = result.copying_all.shape
    return render(result, n_layers, n_heads)


def render(result: DlaResult, n_layers: int, n_heads: int) -> Report:
    """Head grids per task, the conveyor belt next to the logit lens, copying scores."""
    report = Report(f"Direct logit attribution: {result.provenance.model}")
    n_facts, n_ioi = result.values["facts"].shape[1], result.values["ioi"].shape[1]
    report.paragraph(
        f"Each head's and MLP's direct effect on the answer at the last position, through the "
        f"final RMSNorm with its scale frozen at the run's value: the {n_facts} facts answered "
        f"at top-1 (logit of the answer) and {n_ioi} IOI prompts (logit difference IO - S). "
        f"The parts sum to the logit minus its bias within {max(result.errors.values()):.1e}. "
        "Figures on SmolLM2 describe its 4-bit-dequantised weights."
    )
    for task, title in (("facts", "facts: logit of the answer"),
                        ("ioi", "IOI: logit difference IO - S")):  # fmt: skip
        report.heading(title)
        report.table(["part", "mean", "s.e."],
                     [[r["part"], f"{r['mean']:.3f}", f"{r['sem']:.3f}"]
                      for r in result.top[task]])  # fmt: skip
        report.figure(heatmap(
            result.head_grid(task, n_layers, n_heads).tolist(),
            x_labels=[str(h) for h in range(n_heads)],
            y_labels=[str(layer) for layer in range(n_layers)],
            title=f"Direct effect by head, {title} (mean over prompts)",
            x_title="head", y_title="layer", value_name="logit", diverging=True,
        ))  # fmt: skip
    report.heading(f'The conveyor belt: "{FRANCE}" -> " Paris"')
    report.figure(line_chart(
        {"running direct logit of ' Paris'": (list(range(len(result.belt))), result.belt)},
        title="Running direct logit as the embeddings, then each layer's attention and MLP, add "
              "to the stream",
        x_title="part (embed, attn 0, mlp 0, attn 1, ...)", y_title="logit",
    ))  # fmt: skip
    report.figure(line_chart(
        {"rank of ' Paris' (logit lens)": (
            list(range(len(result.lens_rank))), [float(r) for r in result.lens_rank]
        )},
        title="The logit lens of the same prompt", x_title="boundary (0 = embeddings)",
        y_title="rank", log_y=True,
    ))  # fmt: skip
    report.heading("OV copying scores of the induction heads")
    report.table(["head", "induction score", "copying score"],
                 [[r["head"], f"{r['induction']:.2f}", f"{r['copying']:.3f}"]
                  for r in result.copying])  # fmt: skip
    copying = result.copying_all
    report.paragraph(
        f"Over all {copying.numel()} heads the copying score has median "
        f"{float(copying.median()):.2f} ({int((copying > 0.9).sum())} above 0.9): SmolLM2 ties "
        "its unembedding to its embedding, so the full OV circuit W_E W_OV W_E^T is a "
        "congruence of W_OV, and a high score says less about copying than in an untied model."
    )
    return report
