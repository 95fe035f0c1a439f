"""The facts logit lens: measurement (`run`), its Result, and its report."""

from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from experiments.smollm_facts.config import Config
from mechscope.core import PromptError, Result, bootstrap_interval, mean_and_sem
from mechscope.data import FACTS, Fact
from mechscope.lens import lens_trajectory
from mechscope.models import Model, load_model, str_tokens, target_ids, tokenize
from mechscope.viz import Report, line_chart

FRANCE = "The capital of France is"


@dataclass(frozen=True)
class FactsLensResult(Result):
    """Per boundary and fact: the answer's rank, probability and KL to the final prediction."""

    kind: ClassVar[str] = "facts-lens"
    labels: list[str]
    """One label per boundary (embeddings, after block 0, ...)."""
    facts: list[dict[str, Any]]
    """Every single-token fact: prompt, answer, relation, kept (answered at top-1)."""
    rank: Int[Tensor, "boundary fact"]
    prob: Float[Tensor, "boundary fact"]
    kl: Float[Tensor, "boundary fact"]
    france_top: list[list[tuple[str, float]]]
    """Per boundary, the top tokens and probabilities for "The capital of France is"."""
    skipped: dict[str, int]
    """Facts left out, by reason."""

    @property
    def kept(self) -> Tensor:
        """Which facts the model answers at top-1."""
        return torch.tensor([f["kept"] for f in self.facts])

    def first_boundary(self, top: int) -> list[int]:
        """Per kept fact, the first boundary where the answer's rank is at most ``top``."""
        ranks = self.rank[:, self.kept]
        inside = ranks <= top
        return [int(column.nonzero()[0]) for column in inside.T]

    def summary(self) -> list[dict[str, float]]:
        """Per boundary over the kept facts: median rank, mean probability and KL.

        The median rank with its 95% bootstrap interval over facts, the means with their
        standard errors.
        """
        rows = []
        for b, label in enumerate(self.labels):
            ranks = self.rank[b, self.kept].float()
            prob, prob_se = mean_and_sem(self.prob[b, self.kept])
            kl, kl_se = mean_and_sem(self.kl[b, self.kept])
            low, high = bootstrap_interval(ranks)
            rows.append(
                {"boundary": label, "median_rank": float(ranks.median()),
                 "median_rank_low": low, "median_rank_high": high, "prob": prob,
                 "prob_se": prob_se, "kl": kl, "kl_se": kl_se}
            )  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary (see `summary`)."""
        import pandas as pd

        return pd.DataFrame(self.summary())


def single_token_facts(model: Model) -> tuple[list[tuple[Fact, int]], Counter[str]]:
    """The facts whose answer is one token for the model's tokenizer, with that token."""
    usable, skipped = [], Counter()
    for fact in FACTS:
        try:
            (answer,) = target_ids(model, [fact.answer])
        except PromptError:
            skipped["answer is not one token"] += 1
            continue
        usable.append((fact, answer))
    return usable, skipped


@torch.no_grad()
def run(cfg: Config) -> FactsLensResult:
    """Measure every fact."""
    model = load_model(cfg.model)
    usable, skipped = single_token_facts(model)
    ranks, probs, kls, kept = [], [], [], []
    france_top: list[list[tuple[str, float]]] = []
    labels: list[str] = []
    for start in range(0, len(usable), cfg.batch_size):
        chunk = usable[start : start + cfg.batch_size]
        batch = tokenize(model, [fact.prompt for fact, _ in chunk])
        answers = torch.tensor([answer for _, answer in chunk], device=batch.tokens.device)
        targets = answers[:, None].expand_as(batch.tokens)
        # Each fact is read at its prompt's last position only.
        trajectory = lens_trajectory(model, batch, targets, k=cfg.k, last_only=True)
        labels = trajectory.labels
        ranks.append(trajectory.rank[..., 0])
        probs.append(trajectory.log_prob[..., 0].exp())
        kls.append(trajectory.kl_to_final[..., 0])
        kept += (trajectory.rank[-1, :, 0] == 1).tolist()
        for i, (fact, _) in enumerate(chunk):
            if fact.prompt == FRANCE:
                top_ids = trajectory.top_k_ids[:, i, 0].tolist()
                top_lp = trajectory.top_k_log_probs[:, i, 0].exp().tolist()
                names = [str_tokens(model, ids) for ids in top_ids]
                france_top = [
                    [(t, round(p, 4)) for t, p in zip(tokens, ps, strict=True)]
                    for tokens, ps in zip(names, top_lp, strict=True)
                ]
    facts = [
        {"prompt": f.prompt, "answer": f.answer, "relation": f.relation, "kept": k}
        for (f, _), k in zip(usable, kept, strict=True)
    ]
    return FactsLensResult(
        labels=labels,
        facts=facts,
        rank=torch.cat(ranks, dim=1),
        prob=torch.cat(probs, dim=1),
        kl=torch.cat(kls, dim=1),
        france_top=france_top,
        skipped=dict(skipped),
    ).with_provenance(cfg, cfg.model)


def report(result: FactsLensResult, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The page: per-layer curves over the kept facts, entry layers, the France example."""
    n_kept, n_total = int(result.kept.sum()), len(result.facts)
    model = result.provenance.model
    report = Report(f"The logit lens on facts: {model}")
    report.paragraph(
        f"{n_total} single-token facts ({sum(result.skipped.values())} more skipped: "
        f"{result.skipped or 'none'}); the model answers {n_kept} at top-1, and the curves are "
        "over those. Each boundary's residual stream at the prompt's last position is read "
        "through the final normalisation and unembedding. Figures on SmolLM2 describe its "
        "4-bit-dequantised weights."
    )
    summary = result.summary()
    x = list(range(len(result.labels)))
    report.figure(
        line_chart(
            {"median rank of the answer": (x, [r["median_rank"] for r in summary])},
            title="Rank of the answer by boundary (1 = top)",
            x_title="boundary (0 = embeddings, l + 1 = after block l)",
            y_title="median rank",
            log_y=True,
        )
    )
    for key, title, unit in (
        ("prob", "Probability of the answer by boundary (mean ± s.e.)", "probability"),
        ("kl", "KL(final || lens) at the last position (mean ± s.e.)", "KL (nats)"),
    ):
        report.figure(
            line_chart(
                {unit: (x, [r[key] for r in summary])},
                title=title,
                x_title="boundary (0 = embeddings, l + 1 = after block l)",
                y_title=unit,
                errors={unit: [r[f"{key}_se"] for r in summary]},
            )
        )
    report.heading("Where the answer enters the top-10 and the top-1")
    rows = []
    for top in (10, 1):
        entries = torch.tensor(result.first_boundary(top)).float()
        q = entries.quantile(torch.tensor([0.25, 0.5, 0.75])).tolist()
        low, high = bootstrap_interval(entries)
        rows.append([f"top-{top}", q[0], q[1], f"[{low:g}, {high:g}]", q[2], int(entries.min()),
                     int(entries.max())])  # fmt: skip
    report.table(
        ["answer in", "25%", "median boundary", "median: 95% bootstrap interval over facts",
         "75%", "min", "max"],
        rows,
    )  # fmt: skip
    report.heading(f'Top tokens by layer: "{FRANCE}"')
    report.table(
        ["boundary", *[f"#{i + 1}" for i in range(len(result.france_top[0]))]],
        [[label, *[f"{t!r} {p:.3f}" for t, p in row]]
         for label, row in zip(result.labels, result.france_top, strict=True)],
    )  # fmt: skip
    by_relation = Counter(f["relation"] for f in result.facts if f["kept"])
    report.table(["relation", "kept"], sorted(by_relation.items()))
    return report
