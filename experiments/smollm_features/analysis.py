"""SmolLM2's residual-stream features in IOI and facts, and steering with them (see `Config`).

Feature patching (`mechscope.features.patch_features`): the corrupted prompts run with the
SAE spliced in (error term kept) and one feature's activations, at every position, taken
from the clean prompts. The first-order estimate ranks every feature; the top ones are
measured exactly. Effects are normalised like activation patching: 0 = corrupted, 1 = clean.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.smollm_features.config import Config
from mechscope.core import MechscopeError, Result, TokenBatch, load_result
from mechscope.data import FACTS
from mechscope.features import (
    FeatureAttribution,
    FeatureLabels,
    add_features,
    load_sae,
    patch_features,
    site_hook,
    steer,
    write_directions,
)
from mechscope.interventions import IoiCorruption, TaskPairs, ioi_pairs, task_from_prompts
from mechscope.models import load_model, model_spec, str_tokens
from mechscope.viz import Report

REVIEW_PROMPT = "I watched the film last night, and honestly it was"
"""The prompt sentiment features are added to."""


def _slug(spec: str) -> str:
    return spec.replace("/", "_")


def sae_at(cfg: Config, model: Any, layer: int) -> tuple[Any, str]:  # noqa: ANN401
    """The hierarchy run's SAE at resid_post ``layer``, and its hook.

    Raises:
        MechscopeError: no such SAE (the hierarchy experiment has not run there).
    """
    directory = cfg.hierarchy / "runs" / f"{_slug(model_spec(model))}-{layer}"
    if not (directory / "cfg.json").is_file():
        raise MechscopeError(
            f"no SAE for layer {layer} in {directory}: run 'python -m "
            f"experiments.feature_hierarchy --out {cfg.hierarchy}' first (it trains one per "
            "third layer), or pass --hierarchy with such a run, or --layers it has."
        )
    return load_sae(directory, device=str(model.cfg.device or "cpu")), site_hook(
        model, "resid_post", layer
    )


def labels_at(cfg: Config, model: Any, layer: int) -> FeatureLabels | None:  # noqa: ANN401
    """The hierarchy run's labels of that SAE's features, if saved."""
    directory = cfg.hierarchy / _slug(model_spec(model)) / f"layer-{layer}"
    if not (directory / "result.json").is_file():
        return None
    labels = load_result(directory)
    return labels if isinstance(labels, FeatureLabels) else None


def capital_pairs(model: Any, limit: int) -> TaskPairs:  # noqa: ANN401
    """Capital facts ("The capital of A is" -> A's capital), corrupted by B's prompt.

    Countries whose capital is one token are grouped by prompt length and paired in turn
    (A with the next B of its group); the wrong answer is B's capital.
    """
    facts = [f for f in FACTS if f.relation == "capital"]
    tokenizer = model.tokenizer
    single = [
        f for f in facts if len(tokenizer(f.answer, add_special_tokens=False)["input_ids"]) == 1
    ]
    groups: dict[int, list[Any]] = {}
    for fact in single:
        groups.setdefault(len(tokenizer(fact.prompt)["input_ids"]), []).append(fact)
    clean, corrupted, answers, wrong = [], [], [], []
    for group in groups.values():
        if len(group) < 2:
            continue
        for i, fact in enumerate(group):
            other = group[(i + 1) % len(group)]
            clean.append(fact.prompt)
            corrupted.append(other.prompt)
            answers.append(fact.answer)
            wrong.append(other.answer)
    if len(clean) < 2:
        raise MechscopeError("fewer than two capital facts pair up for this tokenizer.")
    n = min(limit, len(clean))
    return task_from_prompts(model, clean[:n], corrupted[:n], answers[:n], wrong[:n],
                             name="capitals")  # fmt: skip


def _promoted(model: Any, sae: Any, feature: int, n: int = 5) -> list[str]:  # noqa: ANN401
    logits = write_directions(sae)[feature].float() @ model.W_U.detach().float()
    return str_tokens(model, logits.topk(n).indices.tolist())


def _label(labels: FeatureLabels | None, feature: int) -> str:
    if labels is None:
        return "-"
    best = labels.best(feature)
    if not best["clears"]:
        return "none clears"
    return f"{best['label']} ({best['family']}, F1 {best['f1']:.2f})"


def patch_layers(model: Any, task: TaskPairs, cfg: Config) -> list[dict[str, Any]]:  # noqa: ANN401
    """Feature patching at every chosen layer: the exactly measured features of each."""
    rows = []
    metric = task.logit_diff()
    for layer in cfg.layers:
        sae, hook = sae_at(cfg, model, layer)
        labels = labels_at(cfg, model, layer)
        result = patch_features(model, sae, hook, task.clean, task.corrupted, metric,
                                top_k=cfg.top_k)  # fmt: skip
        exact, estimate = result.normalised(result.exact), result.normalised(result.estimate)
        order = exact.argsort(descending=True).tolist()
        features = [{
            "feature": int(result.top[i]), "normalised": float(exact[i]),
            "estimate_normalised": float(estimate[result.top[i]]),
            "promoted": _promoted(model, sae, int(result.top[i])),
            "label": _label(labels, int(result.top[i])),
        } for i in order]  # fmt: skip

        def share(value: float | None, result: FeatureAttribution = result) -> float:
            return float(result.normalised(torch.tensor(value or 0.0)))

        together = share(result.together)
        rows.append({"task": task.name, "layer": layer, "clean": result.reference,
                     "corrupted": result.baseline, "features": features,
                     "together": together, "estimate_total": float(estimate.sum()),
                     "all_features": share(result.all_features),
                     "error_term": share(result.error_term),
                     "per_prompt": per_prompt(model, sae, hook, task, cfg)})  # fmt: skip
    return rows


def _one(task: TaskPairs, i: int) -> TaskPairs:
    """The task's ``i``-th prompt pair alone."""

    def row(batch: TokenBatch) -> TokenBatch:
        return TokenBatch(batch.tokens[i : i + 1], batch.attention_mask[i : i + 1])

    return TaskPairs(row(task.clean), row(task.corrupted), task.answers[i : i + 1],
                     task.wrong[i : i + 1], task.positions[i : i + 1], task.name)  # fmt: skip


def per_prompt(
    model: Any, sae: Any, hook: str, task: TaskPairs, cfg: Config
) -> list[dict[str, Any]]:  # noqa: ANN401
    """Each of the first prompts alone: its own best single feature, patched exactly.

    Features specific to one answer (a name, a city) each matter in few prompts, so over a
    batch none looks large; prompt by prompt they can.
    """
    out = []
    for i in range(min(cfg.per_prompt, task.clean.tokens.shape[0])):
        single = _one(task, i)
        result = patch_features(model, sae, hook, single.clean, single.corrupted,
                                single.logit_diff(), top_k=3, progress=False)  # fmt: skip
        exact = result.normalised(result.exact)
        best = int(exact.argmax())
        feature = int(result.top[best])
        out.append({"prompt": i, "gap": float(result.reference or 0.0) - result.baseline,
                    "feature": feature, "normalised": float(exact[best]),
                    "promoted": _promoted(model, sae, feature)})  # fmt: skip
    return out


def _mean_norm(model: Any, hook: str, prompt: str) -> float:  # noqa: ANN401
    _, cache = model.run_with_cache(model.to_tokens(prompt), names_filter=hook)
    return float(cache[hook][0, 1:].norm(dim=-1).mean())


def steering_rows(model: Any, cfg: Config, fact_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:  # noqa: ANN401
    """Sentiment features added to a review prompt; the top fact feature to another country."""
    sae, hook = sae_at(cfg, model, cfg.steer_layer)
    labels = labels_at(cfg, model, cfg.steer_layer)
    rows = []
    cases: list[tuple[str, int, str]] = []
    if labels is not None and "sentiment" in labels.families:
        column = labels.families.index("sentiment")
        clears = labels.clears()[:, column]
        for polarity in ("positive", "negative"):
            chosen = [f for f in range(labels.n_features)
                      if clears[f] and labels.labels[column][f] == polarity]  # fmt: skip
            if chosen:
                best = max(chosen, key=lambda f: float(labels.f1[f, column]))
                f1 = float(labels.f1[best, column])
                cases.append((f"{polarity} sentiment feature {best} (F1 {f1:.2f})", best,
                              REVIEW_PROMPT))  # fmt: skip
    facts = next((r for r in fact_rows if r["layer"] == cfg.steer_layer), None)
    if facts is not None:
        top = facts["features"][0]["feature"]
        cases.append((f"top capitals feature {top}", top, "The capital of Japan is"))
    for what, feature, prompt in cases:
        value = cfg.steer_scale * _mean_norm(model, hook, prompt)
        steering = steer(model, sae, hook, prompt, [add_features([feature], value)],
                         n_tokens=12)  # fmt: skip
        rows.append({"what": what, "feature": feature, "prompt": prompt, "added": value,
                     "clean": steering.clean_continuation,
                     "steered": steering.steered_continuation,
                     "gained": [(t, round(p, 4)) for t, p in steering.gained],
                     "lost": [(t, round(p, 4)) for t, p in steering.lost],
                     "kl": steering.kl(), "promoted": _promoted(model, sae, feature)})  # fmt: skip
    return rows


@dataclass(frozen=True)
class SmolFeatures(Result):
    """Feature patching per task and layer, and the steering runs."""

    kind: ClassVar[str] = "smollm-features"
    patching: list[dict[str, Any]]
    steering: list[dict[str, Any]]
    best: Float[Tensor, " row"]
    """The largest exact normalised effect of one feature, per row of ``patching``."""

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per task, layer and exactly patched feature."""
        import pandas as pd

        return pd.DataFrame([{"task": r["task"], "layer": r["layer"], **f}
                             for r in self.patching for f in r["features"]])  # fmt: skip


def run(cfg: Config) -> SmolFeatures:
    """Patch features in IOI and capital facts at each layer; steer; save."""
    model = load_model(cfg.model)
    for layer in {*cfg.layers, cfg.steer_layer}:
        sae_at(cfg, model, layer)  # every SAE there before any work
    ioi = ioi_pairs(model, cfg.n_prompts, IoiCorruption.ABC, template=0, seed=cfg.seed)
    rows = patch_layers(model, ioi, cfg)
    facts = capital_pairs(model, cfg.n_prompts)
    fact_rows = patch_layers(model, facts, cfg)
    steering = steering_rows(model, cfg, fact_rows)
    patching = rows + fact_rows
    return SmolFeatures(
        patching, steering, torch.tensor([r["features"][0]["normalised"] for r in patching])
    ).with_provenance(cfg, cfg.model)  # fmt: skip


def report(result: SmolFeatures, cfg: Config) -> Report:
    """The page: per task and layer the top features; then the steering runs."""
    page = Report("SmolLM2's features in IOI and facts; steering with them")
    page.paragraph(
        f"Residual-stream TopK SAEs from the feature-hierarchy run ({cfg.hierarchy}); "
        f"{cfg.n_prompts} prompts per task. Each feature is patched from the clean into the "
        "corrupted prompts at every position, the SAE spliced in with its error term; effects "
        "are normalised (0 corrupted, 1 clean); 'estimate' is the first-order (activation x "
        "gradient) value the features were ranked by. Figures describe SmolLM2's 4-bit "
        "(Q4_1) weights dequantised."
    )
    for task in dict.fromkeys(r["task"] for r in result.patching):
        page.heading(task)
        rows = [r for r in result.patching if r["task"] == task]
        page.paragraph(f"Logit difference clean {rows[0]['clean']:.2f}, corrupted "
                       f"{rows[0]['corrupted']:.2f}.")  # fmt: skip
        page.table(
            ["layer", "every feature", "the error term alone", "top features together",
             "each prompt's own best feature (mean)"],
            [[r["layer"], f"{r['all_features']:+.3f}", f"{r['error_term']:+.3f}",
              f"{r['together']:+.3f}",
              f"{sum(p['normalised'] for p in r['per_prompt']) / max(len(r['per_prompt']), 1):+.3f}"
              + " (" + ", ".join(f"{p['feature']}: {p['normalised']:+.2f}" for p in r["per_prompt"])
              + ")"] for r in rows],
        )  # fmt: skip
        page.table(
            ["layer", "feature", "exact", "estimate", "promotes", "label"],
            [[r["layer"], f["feature"], f"{f['normalised']:+.3f}",
              f"{f['estimate_normalised']:+.3f}", ", ".join(map(repr, f["promoted"][:5])),
              f["label"]] for r in rows for f in r["features"][:3]],
        )  # fmt: skip
    page.heading("Steering")
    page.table(
        ["feature", "prompt", "added", "clean continuation", "steered continuation",
         "gained most", "KL"],
        [[r["what"], r["prompt"], f"{r['added']:.1f}", r["clean"], r["steered"],
          ", ".join(f"{t!r} {p:+.3f}" for t, p in r["gained"][:3]), f"{r['kl']:.3f}"]
         for r in result.steering],
    )  # fmt: skip
    return page
