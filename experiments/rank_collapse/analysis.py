"""Rank collapse with and without skip connections: measurement, Result, report."""

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer, HookedTransformerConfig

from experiments.rank_collapse.config import Config
from experiments.runs import trained_records
from mechscope.core import Result, TokenBatch, regroup_v1
from mechscope.data import load_corpus
from mechscope.diagnostics import rank_of_representations, rank_stats, without_skips
from mechscope.models import boundary_stream, load_model, quiet_transformer_lens, tokenize
from mechscope.training import TrainConfig, eval_text_batch, final_model_dir, model_config
from mechscope.viz import Report, line_chart


@dataclass(frozen=True)
class RankCollapseResult(Result):
    """res(X) by boundary: per seed for the random model with and without skips; trained."""

    kind: ClassVar[str] = "rank-collapse"
    with_skips: Float[Tensor, "boundary seed"]
    without_skips: Float[Tensor, "boundary seed"]
    trained: dict[str, list[float]]
    """Per trained model: mean res(X) over the held-out snippets, by boundary."""
    after_training: dict[str, Float[Tensor, "boundary seed"]] = field(default_factory=dict)
    """The same architecture trained here, on held-out text: res(X) by boundary and seed,
    keyed 'initialisation, with skips', 'trained, without skips', ..."""
    bidirectional: dict[str, Float[Tensor, "boundary seed"]] = field(default_factory=dict)
    """The same random models with bidirectional attention (Dong et al.'s setting; the fields
    above are causal decoders): res(X) by boundary and seed, 'with skips' and 'without
    skips'. Empty in results saved before it was measured."""

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        names = data.get("after_training", [])
        return regroup_v1(
            tensors, data, "after_training", {k: f"after_{i}" for i, k in enumerate(names)}
        )

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per boundary: mean res(X) with and without skips."""
        import pandas as pd

        return pd.DataFrame({"with_skips": self.with_skips.mean(-1).tolist(),
                             "without_skips": self.without_skips.mean(-1).tolist()})  # fmt: skip


def pure_attention_model(cfg: Config, seed: int, causal: bool = True) -> HookedTransformer:
    """A random attention-only model with no LayerNorm (Dong et al.'s pure attention).

    ``causal``: a decoder's attention (each position sees itself and earlier ones); else
    bidirectional, every position seeing every other, as in Dong et al.'s analysis. The
    weights are the same for a seed either way.
    """
    config = HookedTransformerConfig(
        n_layers=cfg.n_layers, n_heads=cfg.n_heads, d_model=cfg.d_model,
        d_head=cfg.d_model // cfg.n_heads, d_vocab=256, n_ctx=max(cfg.length, 8),
        attn_only=True, normalization_type=None, act_fn="gelu", seed=seed, device="cpu",
        attention_dir="causal" if causal else "bidirectional",
    )  # fmt: skip
    with quiet_transformer_lens():
        return HookedTransformer(config, move_to_device=False).eval()


@torch.no_grad()
def res_by_boundary(model: HookedTransformer, tokens: Tensor, skips: bool) -> Tensor:
    """Mean res(X) over prompts at every boundary, with or without the skip connections."""
    with nullcontext() if skips else without_skips(model):
        stream = boundary_stream(model, tokens)
    return rank_of_representations(stream, torch.ones_like(tokens)).res.mean(-1)


def held_out_snippets(n: int, chars: int = 120) -> list[str]:
    """``n`` snippets of held-out standard-library text (the same for every model)."""
    text = load_corpus().held_out.tobytes().decode("utf-8", errors="ignore")
    stride = max(len(text) // n, chars)
    return [" ".join(text[i * stride : i * stride + chars].split()) for i in range(n)]


def training_recipe(cfg: Config, seed: int) -> TrainConfig:
    """The pure-attention architecture as a training recipe (plain next-byte prediction)."""
    return TrainConfig(
        n_layers=cfg.n_layers, n_heads=cfg.n_heads, d_model=cfg.d_model, n_ctx=64,
        attn_only=True, layer_norm=False, batch_size=16, steps=cfg.train_steps,
        eval_every=cfg.train_steps, checkpoint_every=cfg.train_steps, warmup_steps=50,
        repeat_fraction=0.0, eval_prompts=cfg.n_prompts, icl_windows=8, span_min=4,
        span_max=16, seed=seed,
    )  # fmt: skip


def before_and_after_training(cfg: Config) -> dict[str, Tensor]:
    """res(X) by boundary and seed, with and without skips, at initialisation and trained."""
    values: dict[str, list[Tensor]] = {}
    for seed in tqdm(range(cfg.train_seeds), desc="trained models"):
        recipe = training_recipe(cfg, seed)
        run_dir = cfg.out / "runs" / f"seed-{seed}"
        trained_records(recipe, run_dir)
        with quiet_transformer_lens():
            initial = HookedTransformer(model_config(recipe), move_to_device=False).eval()
        text = eval_text_batch(recipe, load_corpus().held_out)
        models = {"initialisation": initial, "trained": load_model(final_model_dir(run_dir))}
        for stage, model in models.items():
            for skips in (True, False):
                key = f"{stage}, {'with' if skips else 'without'} skips"
                values.setdefault(key, []).append(res_by_boundary(model, text, skips))
    return {key: torch.stack(per_seed, dim=1) for key, per_seed in values.items()}


def run(cfg: Config) -> RankCollapseResult:
    """Measure (the runner saves the result and writes ``report.html``)."""
    with_skips, without_skips = [], []
    bidirectional: dict[str, list[Tensor]] = {"with skips": [], "without skips": []}
    for seed in range(cfg.seeds):
        model = pure_attention_model(cfg, seed)
        generator = torch.Generator().manual_seed(seed)
        tokens = torch.randint(0, 256, (cfg.n_prompts, cfg.length), generator=generator)
        with_skips.append(res_by_boundary(model, tokens, skips=True))
        without_skips.append(res_by_boundary(model, tokens, skips=False))
        both_ways = pure_attention_model(cfg, seed, causal=False)
        for skips in (True, False):
            name = "with skips" if skips else "without skips"
            bidirectional[name].append(res_by_boundary(both_ways, tokens, skips=skips))
    trained = {}
    snippets = held_out_snippets(cfg.n_prompts)
    for spec in cfg.models:
        model = load_model(spec, device="cpu")
        batch: TokenBatch = tokenize(model, snippets)
        trained[spec] = rank_stats(model, batch).res.mean(-1).tolist()
    after = before_and_after_training(cfg) if cfg.train_steps else {}
    return RankCollapseResult(
        torch.stack(with_skips, dim=1),
        torch.stack(without_skips, dim=1),
        trained,
        after,
        {name: torch.stack(values, dim=1) for name, values in bidirectional.items()},
    ).with_provenance(cfg, "random pure-attention models; " + ", ".join(cfg.models))


def report(result: RankCollapseResult, cfg: Config) -> Report:
    """res(X) by layer on a log scale: with and without skips; the trained models."""
    report = Report("Rank collapse in pure attention (Dong et al. 2021)")
    report.paragraph(
        f"{cfg.seeds} random attention-only transformers ({cfg.n_layers} layers, d_model "
        f"{cfg.d_model}, {cfg.n_heads} heads, no LayerNorm, no MLP), each on {cfg.n_prompts} "
        f"prompts of {cfg.length} random tokens. res(X) = ||X - 1 x^T|| / ||X|| per prompt (x "
        "the mean row), mean over prompts; error bars: standard error over the seeds. Without "
        "skips, each block's attention output replaces the stream (hooks on hook_resid_post). "
        "Causal: decoder attention (each position sees itself and earlier ones); "
        "bidirectional: every position sees every other, Dong et al.'s setting, same weights."
    )
    x = list(range(result.with_skips.shape[0]))
    n = result.with_skips.shape[1]
    series, errors = {}, {}
    variants = [("causal, with skips", result.with_skips),
                ("causal, without skips", result.without_skips),
                *((f"bidirectional, {k}", v) for k, v in result.bidirectional.items())]  # fmt: skip
    for name, values in variants:
        series[name] = (x, values.mean(-1).tolist())
        errors[name] = (values.std(-1) / n**0.5).tolist() if n > 1 else [0.0] * len(x)
    report.figure(line_chart(series, title="res(X) by layer, random pure-attention model",
                             x_title="boundary (0 = embeddings)", y_title="res(X), log scale",
                             errors=errors, log_y=True))  # fmt: skip
    if any(float(v.mean(-1).min()) == 0 for _, v in variants):
        report.paragraph(
            "A line that stops has reached res(X) = 0 exactly (every row of the stream equal, "
            "to float precision), which a log scale cannot draw.",
            note=True,
        )
    if result.after_training:
        report.paragraph(
            f"The same architecture trained for {cfg.train_steps} steps with its skips (plain "
            "next-byte prediction on Python source, context 64, batch 16, lr 1e-3), then "
            f"measured with and without skips on {cfg.n_prompts} held-out windows; "
            f"{cfg.train_seeds} seeds."
        )
        seeds = cfg.train_seeds
        report.figure(line_chart(
            {name: (x, v.mean(-1).tolist()) for name, v in result.after_training.items()},
            title="res(X) by layer before and after training (held-out text)",
            x_title="boundary (0 = embeddings)", y_title="res(X), log scale", log_y=True,
            errors={name: (v.std(-1) / seeds**0.5).tolist()
                    for name, v in result.after_training.items()} if seeds > 1 else None,
        ))  # fmt: skip
    if not result.trained:
        return report
    report.figure(line_chart(
        {name: (list(range(len(values))), values) for name, values in result.trained.items()},
        title="res(X) by layer, trained models with their skips (held-out text)",
        x_title="boundary (0 = embeddings)", y_title="res(X)",
    ))  # fmt: skip
    return report
