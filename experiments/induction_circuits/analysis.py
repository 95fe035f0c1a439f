"""The induction circuit from the weights and the stream: measurement, Result, report."""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.induction_circuits.config import Config
from mechscope.circuits import direct_logit_attribution, head_grid, weight_circuits
from mechscope.core import HeadId, Result, mean_and_sem, regroup_v1
from mechscope.data import repeated_random_tokens
from mechscope.heads import HeadKind, detect_heads
from mechscope.models import adapt, load_model
from mechscope.viz import Report, heatmap, line_chart


@dataclass(frozen=True)
class InductionCircuitsResult(Result):
    """Weights-side and stream-side measurements of the induction circuit."""

    kind: ClassVar[str] = "induction-circuits"
    copying: Float[Tensor, "layer head"]
    positional: Float[Tensor, "layer head offset"]
    composition: dict[str, Float[Tensor, "head later_head"]]
    """Per kind (Q, K, V): layer-0 head -> layer-1 head."""
    baseline: dict[str, float]
    induction_score: Float[Tensor, "layer head"]
    previous_score: Float[Tensor, "layer head"]
    dla: Float[Tensor, "layer head"]
    """Mean direct effect on the correct token's logit over the second copy (nats)."""
    share: Float[Tensor, " prompt"]
    """Per prompt: the induction heads' share of the correct logit (bias excluded)."""
    induction_heads: list[str]
    previous_head: str
    claims: list[dict[str, str]]

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return regroup_v1(
            tensors, data, "composition", {k: f"composition_{k}" for k in data["kinds"]}
        )

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per head: copying, preferred offset, induction score, DLA."""
        import pandas as pd

        n_layers, n_heads = self.copying.shape
        offsets = self.positional.argmax(-1)
        return pd.DataFrame(
            [{"head": f"{l}.{h}", "copying": float(self.copying[l, h]),
              "preferred_offset": int(offsets[l, h]),
              "induction": float(self.induction_score[l, h]),
              "previous_token": float(self.previous_score[l, h]),
              "dla": float(self.dla[l, h])}
             for l in range(n_layers) for h in range(n_heads)]  # noqa: E741
        )  # fmt: skip


def run(cfg: Config) -> InductionCircuitsResult:
    """Measure (the runner saves the result and writes ``report.html``)."""
    model = load_model(cfg.model)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    circuits = weight_circuits(model)
    start = adapt(model).start_id
    vocab = model.cfg.d_vocab if start is None else min(start, model.cfg.d_vocab)
    tokens = repeated_random_tokens(cfg.n_prompts, cfg.half, vocab, start, seed=cfg.seed)
    scores = detect_heads(model, tokens.tolist(), "induction,previous-token", progress=False)
    induction = scores.score(HeadKind.INDUCTION)
    previous = scores.score(HeadKind.PREVIOUS_TOKEN)
    induction_heads = scores.heads_of(HeadKind.INDUCTION) or [
        HeadId(*divmod(int(induction.argmax()), n_heads))
    ]
    previous_head = HeadId(0, int(previous[0].argmax()))
    tokens = tokens.to(model.cfg.device or "cpu")
    answers = torch.cat([tokens[:, 1:], tokens[:, -1:]], dim=1)  # the next token
    attribution = direct_logit_attribution(model, tokens, answers)
    offset = 0 if start is None else 1
    second = slice(offset + cfg.half + 1, offset + 2 * cfg.half - 1)  # predictable by induction
    values = attribution.values[:, :, second]  # component prompt pos
    dla = head_grid(attribution.labels, values.mean((1, 2)), n_layers, n_heads)
    rows = [attribution.labels.index(f"{h.layer}.{h.head}") for h in induction_heads]
    total = (attribution.logit - attribution.unembed_bias)[:, second]
    share = (values[rows].sum(0) / total).mean(-1)
    composition = {k: v[0, :, 1, :] for k, v in circuits.composition.items()}
    positional = circuits.positional
    assert positional is not None  # the shipped models learn positional embeddings
    return InductionCircuitsResult(
        copying=circuits.copying,
        positional=positional,
        composition=composition,
        baseline=circuits.baseline,
        induction_score=induction,
        previous_score=previous,
        dla=dla,
        share=share,
        induction_heads=[f"{h.layer}.{h.head}" for h in induction_heads],
        previous_head=f"{previous_head.layer}.{previous_head.head}",
        claims=claims(
            circuits.copying,
            positional,
            composition,
            circuits.baseline,
            induction_heads,
            previous_head,
            share,
        ),  # fmt: skip
    ).with_provenance(cfg, cfg.model)


def claims(
    copying: Tensor,
    positional: Tensor,
    composition: dict[str, Tensor],
    baseline: dict[str, float],
    induction_heads: list[HeadId],
    previous_head: HeadId,
    share: Tensor,
) -> list[dict[str, str]]:
    """Elhage et al.'s claims next to what this model shows."""
    rows = []
    copy_scores = [float(copying[h]) for h in induction_heads]
    rows.append({
        "claim": "induction heads have strongly positive OV copying scores",
        "measured": ", ".join(f"{h.layer}.{h.head}: {s:.2f}"
                              for h, s in zip(induction_heads, copy_scores, strict=True)),
        "verdict": "agrees" if min(copy_scores) > 0.5 else "differs",
    })  # fmt: skip
    offset = int(positional[previous_head].argmax())
    rows.append({
        "claim": "the previous-token head's positional QK prefers offset -1",
        "measured": f"{previous_head.layer}.{previous_head.head} attends offset -{offset} "
                    f"({float(positional[previous_head][offset]):.2f} of its positional attention)",
        "verdict": "agrees" if offset == 1 else "differs",
    })  # fmt: skip
    k_scores = composition["K"]
    best = [int(k_scores[:, h.head].argmax()) for h in induction_heads]
    rows.append({
        "claim": "K-composition previous-token -> induction head is the strongest into each "
                 "induction head",
        "measured": "; ".join(
            f"into {h.layer}.{h.head}: from 0.{previous_head.head} "
            f"{float(k_scores[previous_head.head, h.head]):.3f}, best 0.{b} "
            f"{float(k_scores[b, h.head]):.3f}"
            for h, b in zip(induction_heads, best, strict=True)
        ) + f" (random {baseline['K']:.3f})",
        "verdict": "agrees" if all(b == previous_head.head for b in best) else "differs",
    })  # fmt: skip
    mean, sem = mean_and_sem(share)
    rows.append({
        "claim": "on the second copy, almost all of the correct token's logit is written "
                 "directly by the induction heads",
        "measured": f"share {mean:.2f} ± {sem:.2f} over {len(share)} prompts",
        "verdict": "agrees" if mean > 0.75 else "differs",
    })  # fmt: skip
    return rows


def report(result: InductionCircuitsResult, cfg: Config) -> Report:
    """Copying scores, positional QK, K-composition, DLA, and the claims table."""
    n_layers, n_heads = result.copying.shape
    heads = [str(h) for h in range(n_heads)]
    layers = [str(l) for l in range(n_layers)]  # noqa: E741
    report = Report(f"The induction circuit in the weights: {result.provenance.model}")
    report.paragraph(
        f"Weights: LayerNorm folded in, as Elhage et al.'s models had none. Stream: direct logit "
        f"attribution of the correct next token through the frozen final LayerNorm, over the "
        f"second copy of {cfg.n_prompts} rows of {cfg.half} repeated random tokens. Induction "
        f"heads by score: {', '.join(result.induction_heads)}; previous-token head: "
        f"{result.previous_head}."
    )
    report.table(["claim (Elhage et al. 2021)", "measured here", "verdict"],
                 [[r["claim"], r["measured"], r["verdict"]] for r in result.claims])  # fmt: skip
    report.figure(heatmap(result.copying.tolist(), x_labels=heads, y_labels=layers,
                          title="OV copying score (Σλ / Σ|λ|)",
                          x_title="head", y_title="layer", value_name="copying",
                          diverging=True, zmin=-1.0, zmax=1.0))  # fmt: skip
    offsets = list(range(min(16, result.positional.shape[-1])))
    report.figure(line_chart(
        {f"{l}.{h}": (offsets, result.positional[l, h, : len(offsets)].tolist())
         for l in range(n_layers) for h in range(n_heads)},  # noqa: E741
        title="Positional QK: attention by offset back from positional embeddings alone",
        x_title="offset back (0 = the same position)", y_title="mean attention"))  # fmt: skip
    report.figure(heatmap(result.composition["K"].tolist(), x_labels=[f"1.{h}" for h in heads],
                          y_labels=[f"0.{h}" for h in heads],
                          title=f"K-composition, layer 0 -> layer 1 (random "
                                f"{result.baseline['K']:.3f})",
                          x_title="later head", y_title="earlier head",
                          value_name="K-composition"))  # fmt: skip
    report.figure(heatmap(result.dla.tolist(), x_labels=heads, y_labels=layers,
                          title="Direct logit attribution of the correct token, second copy",
                          x_title="head", y_title="layer", value_name="logit (mean)",
                          diverging=True))  # fmt: skip
    return report
