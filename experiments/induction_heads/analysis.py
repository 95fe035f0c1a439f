"""The computations of the induction reproduction, each a call into the mechscope library."""

from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from experiments.induction_heads.config import Config
from experiments.induction_heads.result import (
    INDUCTION_1L,
    INDUCTION_2L,
    MODELS,
    InductionResult,
    find_phase_change,
    heads_above,
)
from experiments.runs import trained_records
from mechscope.circuits import CompositionKind, composition_scores, random_baseline
from mechscope.core import (
    HeadId,
    Metric,
    TokenBatch,
    first_copy_metric,
    mean_and_sem,
    next_token_loss,
    pad_token_lists,
    second_copy_metric,
)
from mechscope.data import BOS_ID, load_corpus, repeated_random_tokens
from mechscope.heads import HeadKind, attention_patterns, detect_heads, repeated_rows
from mechscope.interventions import AblationType, ablate, ablation_effects
from mechscope.models import Model, load_model, shipped_dir
from mechscope.training import (
    TrainConfig,
    TrainingInterrupted,
    eval_settings,
    evaluate,
    final_model_dir,
    icl_scores,
    read_config,
    read_metrics,
    text_windows,
)
from mechscope.viz import Report

ANALYSIS_SEED = 20_221_208  # fresh prompts, never the ones logged during training
ICL_SEED = 20_221_209
REFERENCE_SEED = 1  # the reference distribution of mean ablation
VIEW_HALF_LENGTH = 14
HOWS = (AblationType.ZERO, AblationType.MEAN)


def run(cfg: Config) -> InductionResult:
    """Get the two models (trained under ``cfg.out`` once) and analyse them."""
    return analyse(run_dirs(cfg), cfg).with_provenance(cfg, f"{INDUCTION_2L},{INDUCTION_1L}")


def report(result: InductionResult, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The page (`experiments.induction_heads.report.render`)."""
    from experiments.induction_heads.report import render

    return render(result)


def run_dirs(cfg: Config) -> dict[str, Path]:
    """The run directory of each model: trained now, given, or shipped."""
    if cfg.from_checkpoints is not None:
        return {name: Path(cfg.from_checkpoints) / name for name in MODELS}
    if not cfg.train:
        return {name: shipped_dir(name) for name in MODELS}
    dirs = {}
    for name, n_layers in ((INDUCTION_2L, 2), (INDUCTION_1L, 1)):
        recipe = TrainConfig(n_layers=n_layers)
        if cfg.steps is not None:
            recipe = TrainConfig(**(recipe.to_json() | {"steps": cfg.steps, "corpus": ()}))
        run_dir = cfg.out / "runs" / name
        try:  # a run interrupted after a checkpoint continues from it, bit-identically
            trained_records(recipe, run_dir, progress=True)
            dirs[name] = run_dir
        except TrainingInterrupted as stop:
            raise TrainingInterrupted(
                f"{name}: {str(stop).split('. Continue')[0]}. Run the same command again to "
                "continue from it."
            ) from None
    return dirs


def analyse(dirs: dict[str, Path], cfg: Config) -> InductionResult:
    """Every number of the reproduction, from the two runs' metrics and final models."""
    metrics = {name: read_metrics(path) for name, path in dirs.items()}
    recipes = {name: read_config(path) for name, path in dirs.items()}
    models = {name: load_model(final_model_dir(path), device="cpu") for name, path in dirs.items()}
    recipe = recipes[INDUCTION_2L]
    held_out = load_corpus(recipe.corpus or None).held_out
    generator = torch.Generator().manual_seed(ANALYSIS_SEED)
    text = text_windows(held_out, cfg.eval_prompts, recipe.n_ctx, generator)
    text_reference = text_windows(held_out, cfg.eval_prompts, recipe.n_ctx, generator)
    icl_generator = torch.Generator().manual_seed(ICL_SEED)
    icl_tokens = text_windows(held_out, cfg.icl_windows, recipe.n_ctx, icl_generator)
    half = recipe.repeat_half_length
    settings = eval_settings(cfg.eval_prompts, half, ANALYSIS_SEED)

    # Minutes at the full size: one bar over the stages, so `make demo` shows where it is.
    stages = tqdm(total=len(models) + 2, desc="induction analysis", unit="stage")
    head_scores, losses = {}, {}
    for name, model in models.items():
        stages.set_postfix_str(f"evaluating {name}")
        ev = evaluate(model, text, settings, icl_tokens, recipe.icl_bands)
        losses[name] = {k: v for k, v in ev.to_json().items() if isinstance(v, float)}
        repeat = TokenBatch.full(torch.tensor(repeated_rows(model, settings)))
        on_repeat = detect_heads(model, repeat, [HeadKind.PREVIOUS_TOKEN], progress=False)
        head_scores[name] = {
            "induction": ev.induction_score.tolist(),
            # On the repeated random tokens, where the induction circuit reads it.
            "previous_token": on_repeat.score(HeadKind.PREVIOUS_TOKEN).tolist(),
            "previous_token_text": ev.previous_token_score.tolist(),
            "prefix_matching": ev.prefix_matching_score.tolist(),
        }
        stages.update()
    two = models[INDUCTION_2L]
    scores = head_scores[INDUCTION_2L]
    induction_heads = heads_above(scores["induction"], cfg.threshold)
    previous_heads = [
        h
        for h in heads_above(scores["previous_token"], cfg.previous_token_threshold)
        if h.layer == 0
    ]
    groups = _groups(two, induction_heads, previous_heads)
    repeat = TokenBatch.full(torch.tensor(repeated_rows(two, settings)))
    reference_settings = eval_settings(cfg.eval_prompts, half, REFERENCE_SEED)
    repeat_reference = TokenBatch.full(torch.tensor(repeated_rows(two, reference_settings)))
    text_batch, text_reference_batch = TokenBatch.full(text), TokenBatch.full(text_reference)
    measures: dict[str, tuple[Metric, TokenBatch, TokenBatch]] = {
        "repeat_first_half_loss": (first_copy_metric(repeat, half), repeat, repeat_reference),
        "repeat_second_half_loss": (second_copy_metric(repeat, half), repeat, repeat_reference),
        "held_out_loss": (next_token_loss(text_batch), text_batch, text_reference_batch),
    }
    named = [(label, heads) for label, heads in groups if heads]
    icl_groups = [(label, heads) for label, heads in named if not label[0].isdigit()]
    k_comp = composition_scores(two, CompositionKind.K)[0, :, 1, :]
    stages.set_postfix_str("ablating heads")
    ablations = ablation_rows(two, named, measures, losses[INDUCTION_2L])
    stages.update()
    stages.set_postfix_str("ablating heads on the ICL windows")
    icl_ablations = icl_ablation_rows(
        two, icl_groups, icl_tokens, recipe.icl_bands, text_reference_batch
    )
    stages.update()
    stages.close()
    return InductionResult(
        metrics=metrics,
        train_configs={name: r.to_json() for name, r in recipes.items()},
        phase_change=find_phase_change(metrics[INDUCTION_2L]),
        head_scores=head_scores,
        losses=losses,
        induction_heads=induction_heads,
        previous_token_heads=previous_heads,
        k_composition=k_comp,
        k_composition_baseline=random_baseline(two, CompositionKind.K),
        ablations=ablations,
        icl_ablations=icl_ablations,
        **view(two),
    )


def _groups(
    model: Model, induction_heads: list[HeadId], previous_heads: list[HeadId]
) -> list[tuple[str, list[HeadId]]]:
    """Nothing, each head alone, the induction heads, the previous-token heads, the rest."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    all_heads = [HeadId(layer, h) for layer in range(n_layers) for h in range(n_heads)]
    groups: list[tuple[str, list[HeadId]]] = [("none", [])]
    groups += [(f"{h}", [h]) for h in all_heads]
    if induction_heads:
        groups.append(("induction heads", induction_heads))
    if previous_heads:
        groups.append(("previous-token heads", previous_heads))
    groups.append(("all other heads", [h for h in all_heads if h not in induction_heads]))
    return groups


def ablation_rows(
    model: Model,
    groups: list[tuple[str, list[HeadId]]],
    measures: dict[str, tuple[Metric, TokenBatch, TokenBatch]],
    clean: dict[str, float],
) -> list[dict[str, Any]]:
    """Each metric with each group ablated (zero and mean), batched by `ablation_effects`.

    Mean ablation takes each metric's own reference distribution (other prompts of the same
    kind), so the replaced output is the head's average on such inputs.
    """
    rows = [
        {"label": "none", "heads": [], "how": "none"} | {name: clean[name] for name in measures}
    ]
    heads = [group for _, group in groups]
    for how in HOWS:
        values = {
            name: ablation_effects(model, batch, metric, heads, how, reference).ablated.tolist()
            for name, (metric, batch, reference) in measures.items()
        }
        for i, (label, group) in enumerate(groups):
            rows.append(
                {"label": label, "heads": [str(h) for h in group], "how": how.value}
                | {name: values[name][i] for name in measures}
            )
    return rows


def icl_ablation_rows(
    model: Model,
    groups: list[tuple[str, list[HeadId]]],
    windows: Tensor,
    bands: tuple[tuple[int, int], tuple[int, int]],
    reference: TokenBatch,
) -> list[dict[str, Any]]:
    """The ICL score with each group ablated, and its paired change, with standard errors.

    Each window's ICL score is measured with and without the ablation, so the change is a
    paired difference and its standard error is over windows.
    """
    clean = icl_scores(model, windows, bands)
    mean, se = mean_and_sem(clean)
    rows = [{"label": "none", "how": "none", "icl_score": mean, "icl_score_se": se,
             "change": 0.0, "change_se": 0.0, "n_windows": len(clean)}]  # fmt: skip
    for label, heads in groups:
        for how in HOWS:
            with ablate(model, heads, how, reference=reference):
                ablated = icl_scores(model, windows, bands)
            mean, se = mean_and_sem(ablated)
            change, change_se = mean_and_sem(ablated - clean)
            rows.append(
                {"label": label, "how": how.value, "icl_score": mean, "icl_score_se": se,
                 "change": change, "change_se": change_se, "n_windows": len(clean)}
            )  # fmt: skip
    return rows


@torch.no_grad()
def view(model: Model) -> dict[str, Any]:
    """Attention of every head on BOS + a repeated sequence of random lowercase letters."""
    letters = repeated_random_tokens(1, VIEW_HALF_LENGTH, 26, BOS_ID, seed=7)
    tokens = torch.where(letters == BOS_ID, letters, letters + ord("a"))
    patterns = attention_patterns(model, pad_token_lists(tokens.tolist(), pad_id=0))[0]
    labels = ["<bos>" if t == BOS_ID else chr(t) for t in tokens[0].tolist()]
    return {"view_tokens": labels, "view_patterns": patterns}
