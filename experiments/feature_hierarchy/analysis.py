"""How abstract each layer's SAE features are: train, label, count (see `Config`).

Each model's chosen layers are read in one pass over the training text, one TopK SAE per
layer is trained (SAELens) and kept in ``--out/runs`` (read back on a rerun with the same
recipe), then every feature is labelled on annotated held-out text in one more pass.
Per layer: the share of live features whose best cleared label is lexical, part of speech,
syntactic, entity/coreference, sentiment/genre, positional or none, with bootstrap
intervals over features; across layers, the mean relative depth of the features at each
level (0 = first layer read, 1 = last), with a bootstrap interval.
"""

import json
import random
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.feature_hierarchy.config import Config
from mechscope.core import MechscopeError, Outcome, Result
from mechscope.data import conllu_text, read_sst2, split_reviews
from mechscope.features import (
    Abstraction,
    FeatureLabels,
    SaeEvaluation,
    SaeRecipe,
    corpus_windows_for,
    evaluate_reconstruction,
    evaluate_sae,
    feature_firing,
    fit_sae,
    load_sae,
    read_sites,
    real_token_mask,
    save_evaluation,
    score_labels,
    site_hook,
    standard_annotations,
)
from mechscope.models import adapt, load_model, model_spec
from mechscope.viz import Report, abstraction_figure

LEVELS = [level.value for level in Abstraction]


def layers_of(n_layers: int, stride: int) -> list[int]:
    """Every layer of a model of at most 12 layers; else every ``stride``-th and the last."""
    if n_layers <= 12:
        return list(range(n_layers))
    return sorted({*range(0, n_layers, stride), n_layers - 1})


def _slug(spec: str) -> str:
    return spec.replace("/", "_")


def texts(cfg: Config) -> tuple[bytes, bytes]:
    """The SAEs' training text and their held-out text.

    UD EWT and GUM train, and the SST-2 sentences not kept for labelling (`split_reviews`'s
    draw, the one `standard_annotations` labels on); one line in 20 (seeded) is held out
    for the reconstruction measures.
    """
    _, rest = split_reviews(read_sst2(cfg.sst2_dir / "train.tsv"), cfg.label_reviews, cfg.seed)
    lines = [
        *conllu_text(cfg.ewt_dir / "en_ewt-ud-train.conllu").decode().splitlines(),
        *conllu_text(cfg.gum_dir / "en_gum-ud-train.conllu").decode().splitlines(),
        *(review.text for review in rest),
    ]
    generator = random.Random(cfg.seed + 1)
    held = [generator.random() < 0.05 for _ in lines]
    train = "\n".join(line for line, h in zip(lines, held, strict=True) if not h)
    held_out = "\n".join(line for line, h in zip(lines, held, strict=True) if h)
    return train.encode(), held_out.encode()


def _recipe(cfg: Config) -> SaeRecipe:
    return SaeRecipe(expansion=cfg.expansion, k=cfg.k, tokens=cfg.train_tokens,
                     read_tokens=cfg.read_tokens, eval_tokens=cfg.eval_tokens, n_ctx=cfg.n_ctx,
                     checkpoints=0, seed=cfg.seed)  # fmt: skip


def train_saes(
    model: Any,
    hooks: list[str],
    cfg: Config,
    text: bytes,
    held_text: bytes,  # noqa: ANN401
) -> tuple[dict[str, Any], dict[str, SaeEvaluation]]:
    """One SAE per hook, trained or read back from ``--out/runs``; and each one's evaluation."""
    recipe = _recipe(cfg)
    spec = model_spec(model)
    device = str(model.cfg.device or "cpu")
    directories = {h: cfg.out / "runs" / f"{_slug(spec)}-{h.split('.')[1]}" for h in hooks}
    records = {h: {"recipe": recipe.to_json(), "model": spec, "hook": h} for h in hooks}

    def done(hook: str) -> bool:
        saved = directories[hook] / "recipe.json"
        return saved.is_file() and json.loads(saved.read_text()) == records[hook]

    todo = [h for h in hooks if not done(h)]
    if todo:
        windows = corpus_windows_for(model, text, cfg.read_tokens, recipe)
        held = corpus_windows_for(model, held_text, cfg.eval_tokens, recipe, seed=cfg.seed + 1)
        train_acts = read_sites(model, windows, todo, desc=f"{spec} activations")
        held_acts = read_sites(model, held, todo, desc=f"{spec} held-out activations")
        for hook, x, x_held in zip(todo, train_acts, held_acts, strict=True):
            sae, _ = fit_sae(x[: cfg.read_tokens], recipe, device=device, progress=True)
            sae.cfg.metadata.hook_name = hook
            sae.cfg.metadata.model_name = spec
            directory = directories[hook]
            directory.mkdir(parents=True, exist_ok=True)
            sae.save_inference_model(directory)
            inference = load_sae(directory, device=device)
            evaluation = evaluate_reconstruction(inference, hook, x_held)
            save_evaluation(directory, evaluation.with_provenance(recipe, spec))
            (directory / "recipe.json").write_text(json.dumps(records[hook], indent=2))
        del train_acts, held_acts
    saes = {h: load_sae(directories[h], device=device) for h in hooks}
    evaluations = {h: SaeEvaluation.load(directories[h] / "evaluation") for h in hooks}
    if cfg.loss_tokens and adapt(model).causal:
        held = corpus_windows_for(model, held_text, cfg.loss_tokens, recipe, seed=cfg.seed + 2)
        for hook in hooks:
            evaluation = evaluations[hook]
            if evaluation.losses is None or evaluation.n_tokens != _loss_tokens(held, model):
                evaluation = evaluate_sae(model, saes[hook], hook, held)
                evaluations[hook] = save_evaluation(
                    directories[hook], evaluation.with_provenance(recipe, spec)
                )
    return saes, evaluations


def _loss_tokens(windows: Tensor, model: Any) -> int:  # noqa: ANN401
    """Tokens `evaluate_sae` reads in ``windows`` (real tokens, BOS left out)."""
    return int(real_token_mask(model, windows).sum())


def labelled_tokens(model: Any, cfg: Config) -> Any:  # noqa: ANN401
    """The annotated held-out rows: UD EWT dev, UD GUM dev, SST-2 sentences, repeated tokens.

    Raises:
        MechscopeError: a dataset is missing (the experiment needs all three).
    """
    data = cfg.ewt_dir.parent
    if not (cfg.gum_dir.parent == data == cfg.sst2_dir.parent):
        raise MechscopeError("--ewt-dir, --gum-dir and --sst2-dir must sit in one directory.")
    labelled, missing = standard_annotations(
        model, data, sentences=cfg.label_sentences, reviews=cfg.label_reviews,
        induction_rows=cfg.induction_rows, seed=cfg.seed,
    )  # fmt: skip
    if missing:
        raise MechscopeError(f"missing {', '.join(missing)}; see the datasets' READMEs.")
    return labelled


def measure_model(spec: str, cfg: Config, text: bytes, held_text: bytes) -> dict[str, Any]:
    """Train, evaluate and label one model's SAEs."""
    model = load_model(spec)
    layers = layers_of(model.cfg.n_layers, cfg.deep_layer_stride)
    hooks = [site_hook(model, "resid_post", layer) for layer in layers]
    saes, evaluations = train_saes(model, hooks, cfg, text, held_text)
    labelled = labelled_tokens(model, cfg)
    firings = feature_firing(model, saes, labelled)
    labels = {
        hook: score_labels(firings[hook], labelled, hook, n_shuffles=cfg.n_shuffles,
                           min_f1=cfg.min_f1, seed=cfg.seed).with_provenance(cfg, spec)
        for hook in hooks
    }  # fmt: skip
    return {"spec": spec, "layers": layers, "hooks": hooks, "labels": labels,
            "evaluations": evaluations, "n_rows": len(labelled.rows),
            "n_tokens": sum(len(r) for r in labelled.rows)}  # fmt: skip


def depth_by_level(
    labels: list[FeatureLabels], n_boot: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float, float, int]]:
    """Per level: the mean relative depth of its features (0 first layer, 1 last), 95 % CI, n."""
    depth: dict[str, list[float]] = {level: [] for level in LEVELS}
    for i, layer_labels in enumerate(labels):
        relative = i / max(len(labels) - 1, 1)
        for level in layer_labels.abstraction():
            if level is not None:
                depth[level.value].append(relative)
    out = {}
    generator = torch.Generator().manual_seed(seed)
    for level, values in depth.items():
        if not values:
            out[level] = (float("nan"), float("nan"), float("nan"), 0)
            continue
        x = torch.tensor(values)
        boot = x[torch.randint(0, len(x), (n_boot, len(x)), generator=generator)].mean(1)
        out[level] = (float(x.mean()), float(boot.quantile(0.025)), float(boot.quantile(0.975)),
                      len(values))  # fmt: skip
    return out


def layer_rows(measured: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per layer: reconstruction, live features, and the share at each level."""
    rows = []
    for layer, hook in zip(measured["layers"], measured["hooks"], strict=True):
        labels, evaluation = measured["labels"][hook], measured["evaluations"][hook]
        shares = labels.shares(seed=layer)
        examples = {}
        for level in Abstraction:
            candidates = [f for f, lv in enumerate(labels.abstraction()) if lv is level]
            if candidates and level is not Abstraction.UNEXPLAINED:
                best = max(candidates, key=lambda f: float(labels.f1[f].max()))
                examples[level.value] = labels.best(best)
        rows.append({
            "model": measured["spec"], "layer": layer, "hook": hook,
            "explained_variance": evaluation.explained_variance,
            "explained_variance_per_dim": evaluation.explained_variance_per_dim,
            "l0": evaluation.l0, "dead_fraction": evaluation.dead_fraction,
            "n_tokens": evaluation.n_tokens,
            "loss_recovered": (list(evaluation.recovered("zero_ablated"))
                               + list(evaluation.recovered("mean_ablated"))
                               if evaluation.losses is not None else None),
            "width": labels.n_features, "live": int(labels.alive.sum()),
            "shares": {level.value: list(s) for level, s in shares.items()},
            "examples": examples,
        })  # fmt: skip
    return rows


def verdicts(rows: list[dict[str, Any]], depths: dict[str, dict[str, Any]]) -> list[str]:
    """Per model: does the share move from lexical to syntactic to semantic with depth?"""
    lines = []
    for spec, depth in depths.items():
        mine = [r for r in rows if r["model"] == spec]
        first, last = mine[0], mine[-1]

        def share(row: dict[str, Any], level: str) -> str:
            s = row["shares"][level]
            return f"{s[0]:.3f} [{s[1]:.3f}, {s[2]:.3f}]"

        parts = [f"{level}: {share(first, level)} at layer {first['layer']} -> "
                 f"{share(last, level)} at layer {last['layer']}"
                 for level in LEVELS]  # fmt: skip
        lines.append(f"{spec}: share of live features, first -> last layer read: "
                     + "; ".join(parts) + ".")  # fmt: skip
        ranked = sorted((v[0], level) for level, v in depth.items() if v[3] >= 20)
        order = " < ".join(f"{level} {mean:.2f} [{depth[level][1]:.2f}, {depth[level][2]:.2f}] "
                           f"(n={depth[level][3]})" for mean, level in ranked)  # fmt: skip
        lines.append(
            f"{spec}: mean relative depth of the features at each level (0 = first "
            f"layer read, 1 = last; levels with at least 20 features): {order}."
        )
        expected = ["token identity", "part of speech", "syntax", "entity/coreference",
                    "sentiment/genre"]  # fmt: skip
        means = {level: depth[level][0] for level in expected if depth[level][3] >= 20}
        ordered = list(means) == sorted(means, key=lambda level: means[level])
        lines.append(
            f"{spec}: the levels' depths are {'in' if ordered else 'not in'} the order "
            "lexical < part of speech < syntax < entity < sentiment/genre"
            + ("." if ordered else f" (measured: {' < '.join(sorted(means, key=means.get))}).")  # type: ignore[arg-type]
        )
    return lines


@dataclass(frozen=True)
class FeatureHierarchy(Result):
    """Per model and layer: the SAE's reconstruction and its features' levels (module doc)."""

    kind: ClassVar[str] = "feature-hierarchy"
    layers: list[dict[str, Any]]
    depths: dict[str, dict[str, list[float]]]
    """Model -> level -> (mean relative depth, low, high, features)."""
    verdicts: list[str]
    live: Float[Tensor, " row"]
    """Live features per row of ``layers`` (for a quick look without the JSON)."""

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per model, layer and level."""
        import pandas as pd

        return pd.DataFrame([
            {"model": r["model"], "layer": r["layer"], "level": level, "share": s[0],
             "low": s[1], "high": s[2]}
            for r in self.layers for level, s in r["shares"].items()
        ])  # fmt: skip


def run(cfg: Config) -> Outcome:
    """Train, evaluate and label every model's SAEs; save; summarise."""
    text, held_text = texts(cfg)
    measured = [measure_model(spec, cfg, text, held_text) for spec in cfg.models]
    rows = [row for m in measured for row in layer_rows(m)]
    depths = {m["spec"]: depth_by_level([m["labels"][h] for h in m["hooks"]], seed=cfg.seed)
              for m in measured}  # fmt: skip
    result = FeatureHierarchy(
        rows, {spec: {level: list(v) for level, v in d.items()} for spec, d in depths.items()},
        verdicts(rows, depths), torch.tensor([float(r["live"]) for r in rows]),
    ).with_provenance(cfg, ",".join(cfg.models))  # fmt: skip
    saved = {
        f"{_slug(m['spec'])}/layer-{layer}": m["labels"][hook]
        for m in measured
        for layer, hook in zip(m["layers"], m["hooks"], strict=True)
    }
    return Outcome({"": result, **saved}, {"measured": measured})


def _recovered(row: dict[str, Any]) -> str:
    loss = row.get("loss_recovered")
    if not loss:
        return "-"
    return f"{loss[0]:.3f} ± {loss[1]:.3f} / {loss[2]:.3f} ± {loss[3]:.3f}"


def report(outcome: Outcome, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The page: verdicts, then per model the shares by layer and the best example per level."""
    result: FeatureHierarchy = outcome.main  # type: ignore[assignment]
    page = Report("The feature hierarchy: how abstract each layer's SAE features are")
    page.paragraph(
        "One TopK SAE per layer on the residual stream (resid_post), trained with SAELens on "
        "UD EWT + GUM train text and SST-2 sentences; each feature's best label per family "
        "(token, UPOS, relation, entity, coreference, sentiment, genre, position, induction) is "
        "chosen on half of the annotated held-out rows and scored (precision, recall, F1) on "
        "the other half, against 20 shuffles of the labels. A feature's level is that of its "
        f"best label that beats every shuffle and reaches F1 {cfg.min_f1}; intervals are 95 % "
        "bootstraps over features. SmolLM2 figures describe its 4-bit (Q4_1) weights "
        "dequantised."
    )
    for line in result.verdicts:
        page.paragraph(line)
    for spec in dict.fromkeys(r["model"] for r in result.layers):
        rows = [r for r in result.layers if r["model"] == spec]
        page.heading(spec)
        shares = {r["layer"]: {Abstraction(level): tuple(s) for level, s in r["shares"].items()}
                  for r in rows}  # fmt: skip
        page.figure(abstraction_figure(shares, f"{spec}: what each layer's features are"))
        page.table(
            ["layer", "explained variance (per dim)", "loss recovered (zero / mean ablation)",
             "L0", "dead", "live features", *LEVELS],
            [[r["layer"], f"{r['explained_variance']:.3f} ({r['explained_variance_per_dim']:.3f})",
              _recovered(r), f"{r['l0']:.0f}", f"{r['dead_fraction']:.2f}",
              f"{r['live']} / {r['width']}",
              *(f"{r['shares'][level][0]:.3f} [{r['shares'][level][1]:.2f}, "
                f"{r['shares'][level][2]:.2f}]" for level in LEVELS)] for r in rows],
        )  # fmt: skip
        page.table(
            ["layer", "level", "feature", "label (family)", "precision", "recall", "F1",
             "shuffled F1"],
            [[r["layer"], level, e["feature"], f"{e['label']} ({e['family']})",
              f"{e['precision']:.2f}", f"{e['recall']:.2f}", f"{e['f1']:.2f}",
              f"{e['control_f1']:.2f}"]
             for r in rows for level, e in r["examples"].items()],
        )  # fmt: skip
    return page
