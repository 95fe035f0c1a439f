"""The computations behind `mechscope.experiments.induction_heads`.

Kept apart from the experiment's Config and Result so that those import without
TransformerLens (the CLI builds its options from the Config).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mechscope.ablation import AblationType, ablate
from mechscope.attention import attention_patterns
from mechscope.axes import HeadId
from mechscope.composition import CompositionKind, composition_scores, random_baseline
from mechscope.data.byte_tokenizer import BOS_ID
from mechscope.data.corpus import load_corpus
from mechscope.data.repeated import repeated_random_tokens
from mechscope.errors import MechscopeError
from mechscope.experiments.induction_heads import (
    INDUCTION_1L,
    INDUCTION_2L,
    MODELS,
    Config,
    Result,
    find_phase_change,
    heads_above,
)
from mechscope.head_scores import previous_token_score
from mechscope.models import load_model
from mechscope.models.base import Model
from mechscope.models.bundled import shipped_dir
from mechscope.tokens import pad_token_lists
from mechscope.training import TrainConfig, evaluate, train
from mechscope.training.batches import N_BYTE_TOKENS, text_windows
from mechscope.training.evaluation import repeat_losses, text_losses
from mechscope.training.run_dir import final_model_dir, read_config, read_metrics

ANALYSIS_SEED = 20_221_208  # fresh prompts, never the ones logged during training
VIEW_HALF_LENGTH = 14


def run_dirs(cfg: Config) -> dict[str, Path]:
    """The run directory of each model: trained now, given, or shipped."""
    if cfg.train and cfg.from_checkpoints is not None:
        raise MechscopeError("choose either train or from_checkpoints, not both.")
    if cfg.from_checkpoints is not None:
        return {name: Path(cfg.from_checkpoints) / name for name in MODELS}
    if not cfg.train:
        return {name: shipped_dir(name) for name in MODELS}
    dirs = {}
    for name, n_layers in ((INDUCTION_2L, 2), (INDUCTION_1L, 1)):
        recipe = TrainConfig(n_layers=n_layers)
        if cfg.steps is not None:
            recipe = TrainConfig(**(recipe.to_json() | {"steps": cfg.steps, "corpus": ()}))
        dirs[name] = train(recipe, cfg.out_dir / "runs" / name).run_dir
    return dirs


def analyse(dirs: dict[str, Path], cfg: Config) -> Result:
    """Every number of the reproduction, from the two runs' metrics and final models."""
    metrics = {name: read_metrics(path) for name, path in dirs.items()}
    recipes = {name: read_config(path) for name, path in dirs.items()}
    models = {name: load_model(final_model_dir(path), device="cpu") for name, path in dirs.items()}
    recipe = recipes[INDUCTION_2L]
    held_out = load_corpus(recipe.corpus or None).held_out
    generator = torch.Generator().manual_seed(ANALYSIS_SEED)
    text = text_windows(held_out, cfg.eval_prompts, recipe.n_ctx, generator)
    half = recipe.repeat_half_length
    repeat = repeated_random_tokens(
        cfg.eval_prompts, half, N_BYTE_TOKENS, BOS_ID, seed=ANALYSIS_SEED
    )
    references = {
        "text": text_windows(held_out, cfg.eval_prompts, recipe.n_ctx, generator),
        "repeat": repeated_random_tokens(cfg.eval_prompts, half, N_BYTE_TOKENS, BOS_ID, seed=1),
    }

    measures: dict[str, Callable[[Model], dict[str, float]]] = {
        "repeat": lambda model: repeat_losses(model, repeat, half)[0],
        "text": lambda model: text_losses(model, text, recipe.icl_positions)[0],
    }

    head_scores, losses = {}, {}
    for name, model in models.items():
        ev = evaluate(model, text, repeat, half, recipe.icl_positions)
        losses[name] = {k: v for k, v in ev.to_json().items() if isinstance(v, float)}
        _, repeat_patterns = repeat_losses(model, repeat, half)
        head_scores[name] = {
            "induction": ev.induction_score.tolist(),
            # On the repeated random tokens, where the induction circuit reads it.
            "previous_token": previous_token_score(repeat_patterns).tolist(),
            "previous_token_text": ev.previous_token_score.tolist(),
            "prefix_matching": ev.prefix_matching_score.tolist(),
        }
    two = models[INDUCTION_2L]
    scores = head_scores[INDUCTION_2L]
    induction_heads = heads_above(scores["induction"], cfg.threshold)
    previous_heads = [
        h
        for h in heads_above(scores["previous_token"], cfg.previous_token_threshold)
        if h.layer == 0
    ]
    ablations = ablation_rows(two, induction_heads, previous_heads, references, measures)
    k_comp = composition_scores(two, CompositionKind.K)[0, :, 1, :]
    return Result(
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
        **view(two),
    )


def ablation_rows(
    model: Model,
    induction_heads: list[HeadId],
    previous_heads: list[HeadId],
    references: dict[str, Tensor],
    measures: dict[str, Callable[[Model], dict[str, float]]],
) -> list[dict[str, Any]]:
    """Metrics with nothing, each head, the induction heads, and all other heads ablated."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    all_heads = [HeadId(layer, h) for layer in range(n_layers) for h in range(n_heads)]
    others = [h for h in all_heads if h not in induction_heads]
    groups: list[tuple[str, list[HeadId]]] = [("none", [])]
    groups += [(f"{h}", [h]) for h in all_heads]
    if induction_heads:
        groups.append(("induction heads", induction_heads))
    if previous_heads:
        groups.append(("previous-token heads", previous_heads))
    groups.append(("all other heads", others))
    rows = []
    for label, heads in groups:
        for how in (AblationType.ZERO, AblationType.MEAN) if heads else (AblationType.ZERO,):
            # Mean ablation takes each metric's own reference distribution.
            with ablate(model, heads, how, references["repeat"]):
                repeat_metrics = measures["repeat"](model)
            with ablate(model, heads, how, references["text"]):
                text_metrics = measures["text"](model)
            rows.append(
                {
                    "label": label,
                    "heads": [str(h) for h in heads],
                    "how": how.value if heads else "none",
                    "repeat_first_half_loss": repeat_metrics["repeat_first_half_loss"],
                    "repeat_second_half_loss": repeat_metrics["repeat_second_half_loss"],
                    "held_out_loss": text_metrics["held_out_loss"],
                    "icl_score": text_metrics["icl_score"],
                }
            )
    return rows


@torch.no_grad()
def view(model: Model) -> dict[str, Any]:
    """Attention of every head on BOS + a repeated sequence of random lowercase letters."""
    letters = repeated_random_tokens(1, VIEW_HALF_LENGTH, 26, BOS_ID, seed=7)
    tokens = torch.where(letters == BOS_ID, letters, letters + ord("a"))
    patterns = attention_patterns(model, pad_token_lists(tokens.tolist(), pad_id=0))[0]
    labels = ["<bos>" if t == BOS_ID else chr(t) for t in tokens[0].tolist()]
    return {"view_tokens": labels, "view_patterns": patterns}
