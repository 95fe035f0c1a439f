"""The tuned lens on a real LM: fitting (`run`), its Result, and its report."""

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from experiments.smollm_facts.analysis import single_token_facts
from experiments.smollm_tuned_lens.config import Config
from mechscope.core import MechscopeError, Result, bootstrap_interval, mean_and_sem, regroup_v1
from mechscope.data import DATA_ENV, conllu_text, load_corpus
from mechscope.lens import (
    LOGIT_LENS,
    LensComparison,
    TunedLens,
    TunedLensConfig,
    check_lens_model,
    compare_lenses,
    corpus_windows,
    train_tuned_lens,
)
from mechscope.models import (
    Model,
    boundary_stream,
    load_model,
    readout,
    readout_groups,
    tokenize,
)
from mechscope.viz import Report, line_chart

LEAST_SQUARES = "least squares"
TUNED = "tuned (KL)"
DOMAINS = {
    "code": "Python source (held-out standard-library files)",
    "english": "English (UD English EWT dev)",
}


@dataclass(frozen=True)
class TunedLensResult(Result):
    """KL to the final prediction per lens, boundary and held-out window; facts per lens."""

    kind: ClassVar[str] = "smollm-tuned-lens"
    labels: list[str]
    """One label per boundary (embeddings, after block 0, ...)."""
    lenses: list[str]
    kl: dict[str, Float[Tensor, "lens boundary window"]]
    """Per kind of text (`DOMAINS`): mean KL over each held-out window's sampled positions."""
    fact_rank: Int[Tensor, "lens boundary fact"]
    """Rank of the answer at the prompt's last position, over the facts answered at top-1."""
    fact_kl: Float[Tensor, "lens boundary fact"]
    facts: list[str]
    losses: list[float]
    """Mean KL over boundaries of each training step."""
    seconds: dict[str, float]

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        return regroup_v1(tensors, data, "kl", {d: f"kl_{d}" for d in data["domains"]})

    def _summary(self) -> dict[str, Any]:
        return {"summary": self.summary()}

    @property
    def domains(self) -> list[str]:
        """The kinds of held-out text."""
        return list(self.kl)

    def comparison(self, domain: str) -> LensComparison:
        """The lens comparison on one kind of text."""
        return LensComparison(self.labels, self.lenses, self.kl[domain])

    def first_top1(self, lens: str) -> list[int]:
        """Per fact, the first boundary where ``lens`` ranks the answer first."""
        inside = self.fact_rank[self.lenses.index(lens)] == 1
        return [int(column.nonzero()[0]) for column in inside.T]

    def summary(self) -> list[dict[str, Any]]:
        """Per domain, lens and boundary: mean KL with its standard error."""
        rows = []
        for domain in self.domains:
            comparison = self.comparison(domain)
            for lens in self.lenses:
                for label, mean, se in zip(self.labels, comparison.mean(lens),
                                           comparison.sem(lens), strict=True):  # fmt: skip
                    rows.append({"domain": domain, "lens": lens, "boundary": label,
                                 "kl": mean, "kl_se": se})  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per domain, lens and boundary (see `summary`)."""
        import pandas as pd

        return pd.DataFrame(self.summary())


def texts(cfg: Config) -> tuple[bytes, dict[str, bytes]]:
    """Training text (half standard-library source, half UD train) and held-out text by kind."""
    train_file, dev_file = (
        cfg.ud_dir / "en_ewt-ud-train.conllu",
        cfg.ud_dir / "en_ewt-ud-dev.conllu",
    )
    if not (train_file.is_file() and dev_file.is_file()):
        raise MechscopeError(
            f"UD English EWT is not in {cfg.ud_dir} (en_ewt-ud-train.conllu, en_ewt-ud-dev.conllu);"
            f" pass --ud-dir DIR, or set {DATA_ENV} to the directory holding ud_english_ewt/."
        )
    english = conllu_text(train_file)
    stdlib = load_corpus()
    code, chunks = stdlib.train.tobytes(), 64
    size, stride = len(english) // chunks, len(code) // chunks
    code = b"\n".join(code[i * stride : i * stride + size] for i in range(chunks))
    held_out = {"code": stdlib.held_out.tobytes(), "english": conllu_text(dev_file)}
    return code + b"\n" + english, held_out


@torch.no_grad()
def facts_through(
    model: Model, lenses: dict[str, TunedLens | None], batch_size: int = 16
) -> tuple[Tensor, Tensor, list[str]]:
    """Rank and KL of each top-1-answered fact's answer at its last position, per lens."""
    model = check_lens_model(model)
    usable, _ = single_token_facts(model)
    answers = torch.tensor([answer for _, answer in usable])
    streams = []  # per batch of prompts: boundary fact d_model, at each prompt's last position
    for start in range(0, len(usable), batch_size):
        batch = tokenize(model, [fact.prompt for fact, _ in usable[start : start + batch_size]])
        resid = boundary_stream(model, batch)
        streams.append(resid[:, torch.arange(resid.shape[1]), batch.lengths - 1].cpu())
    resid = torch.cat(streams, dim=1)
    device = model.cfg.device or "cpu"
    final = readout(model, resid[-1].to(device)).log_softmax(-1)
    answers = answers.to(final.device)
    rank = torch.zeros(len(lenses), len(resid), len(usable), dtype=torch.long)
    kl = torch.zeros(len(lenses), len(resid), len(usable))
    for i, lens in enumerate(lenses.values()):
        reads = resid if lens is None else lens.translate_stream(resid.to(device))
        for group in readout_groups(len(resid), len(usable)):  # boundaries read out together
            log_probs = readout(model, reads[group].to(device)).log_softmax(-1)
            answer_lp = log_probs.gather(-1, answers.expand(log_probs.shape[0], -1)[..., None])
            rank[i, group] = ((log_probs > answer_lp).sum(-1) + 1).cpu()
            kl[i, group] = (final.exp() * (final - log_probs)).sum(-1).cpu()
    kept = rank[0, -1] == 1
    prompts = [fact.prompt for (fact, _), k in zip(usable, kept.tolist(), strict=True) if k]
    return rank[:, :, kept], kl[:, :, kept], prompts


def run(cfg: Config) -> TunedLensResult:
    """Fit the lenses (saved into ``cfg.out`` as they are fitted), then compare them."""
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    train_text, held_out = texts(cfg)
    model = load_model(cfg.model, device=cfg.device)
    lap("load")
    lens_cfg = TunedLensConfig(
        init="regression", regression_windows=cfg.regression_windows, steps=0,
        batch_size=cfg.batch_size, n_ctx=cfg.n_ctx, positions=cfg.positions, lr=cfg.lr,
        seed=cfg.seed,
    )  # fmt: skip
    least_squares = train_tuned_lens(model, lens_cfg, text=train_text)
    lap("least squares")
    kl_cfg = TunedLensConfig(**{**lens_cfg.__dict__, "init": cfg.init, "steps": cfg.steps,
                                "seed": cfg.seed + 1})  # fmt: skip
    start = least_squares if cfg.init == "regression" else None
    tuned = train_tuned_lens(model, kl_cfg, text=train_text, start=start)
    lap("KL steps")
    lenses: dict[str, TunedLens | None] = {LOGIT_LENS: None, LEAST_SQUARES: least_squares,
                                           TUNED: tuned}  # fmt: skip
    kl = {}
    n_ctx = min(cfg.n_ctx, model.cfg.n_ctx)
    for i, (domain, text) in enumerate(held_out.items()):
        generator = torch.Generator().manual_seed(cfg.seed + 100 + i)
        windows = corpus_windows(model, text, cfg.eval_windows, n_ctx, generator)
        comparison = compare_lenses(model, lenses, windows, positions=cfg.eval_positions,
                                    batch_size=cfg.batch_size, seed=cfg.seed)  # fmt: skip
        kl[domain] = comparison.kl
    fact_rank, fact_kl, facts = facts_through(model, lenses)
    lap("evaluation")
    result = TunedLensResult(
        labels=comparison.labels,
        lenses=list(lenses),
        kl=kl,
        fact_rank=fact_rank,
        fact_kl=fact_kl,
        facts=facts,
        losses=tuned.losses,
        seconds=seconds,
    ).with_provenance(cfg, cfg.model)
    least_squares.save(cfg.out / "least-squares-lens")
    tuned.save(cfg.out / "tuned-lens")
    return result


def report(result: TunedLensResult, cfg: Config) -> Report:
    """The page: KL by boundary per lens and kind of text, the facts per lens, training."""
    model = result.provenance.model
    report = Report(f"Tuned lens vs logit lens: {model}")
    n_windows = next(iter(result.kl.values())).shape[-1]
    report.paragraph(
        f"Three readouts of the residual stream after every block: the logit lens (the final "
        f"normalisation and unembedding as they are), the least-squares lens (one affine map "
        f"per boundary fitted onto the final residual on {cfg.regression_windows} training "
        f"windows, Din et al. 2023) and the tuned lens (that start, or the identity, trained "
        f"{cfg.steps} Adam steps of {cfg.batch_size} windows x "
        f"{cfg.positions or cfg.n_ctx} positions on KL(final || lens), Belrose et al. 2023). "
        f"Training text: half Python standard-library source, half UD English EWT train. "
        f"KL is measured on {n_windows} held-out windows of {cfg.n_ctx} tokens per kind of text "
        f"({f'{cfg.eval_positions} random positions' if cfg.eval_positions else 'all positions'}"
        " each); error bars are the standard "
        f"error over windows. Seconds: {result.seconds}. Figures on SmolLM2 describe its "
        "4-bit-dequantised weights."
    )
    x = list(range(len(result.labels)))
    for domain in result.domains:
        comparison = result.comparison(domain)
        report.figure(
            line_chart(
                {lens: (x, comparison.mean(lens)) for lens in result.lenses},
                title=f"KL(final || lens) by boundary: {DOMAINS.get(domain, domain)}",
                x_title="boundary (0 = embeddings, l + 1 = after block l)",
                y_title="KL (nats, log scale)",
                errors={lens: comparison.sem(lens) for lens in result.lenses},
                log_y=True,
            )
        )
    report.heading(f"The {len(result.facts)} facts answered at top-1, through each lens")
    rows = []
    for i, lens in enumerate(result.lenses):
        first = torch.tensor(result.first_top1(lens)).float()
        kl_mid, kl_mid_se = mean_and_sem(result.fact_kl[i, len(result.labels) // 2])
        low, high = bootstrap_interval(first)
        rows.append([lens, float(first.median()), f"[{low:g}, {high:g}]", int(first.min()),
                     f"{kl_mid:.2f} ± {kl_mid_se:.2f}"])  # fmt: skip
    report.table(
        ["lens", "median first top-1 boundary", "95% bootstrap interval over facts", "earliest",
         f"KL at {result.labels[len(result.labels) // 2]} (mean ± s.e.)"],
        rows,
    )  # fmt: skip
    report.figure(
        line_chart(
            {
                lens: (x, result.fact_rank[i].float().median(-1).values.tolist())
                for i, lens in enumerate(result.lenses)
            },  # fmt: skip
            title="Median rank of the fact's answer by boundary, per lens (1 = top)",
            x_title="boundary (0 = embeddings, l + 1 = after block l)",
            y_title="median rank",
            log_y=True,
        )
    )
    if result.losses:
        report.figure(
            line_chart(
                {
                    "mean KL over boundaries": (
                        list(range(1, len(result.losses) + 1)),
                        result.losses,
                    )
                },  # fmt: skip
                title="Tuned-lens training: KL on each step's training windows",
                x_title="step",
                y_title="KL (nats)",
            )
        )
    return report
