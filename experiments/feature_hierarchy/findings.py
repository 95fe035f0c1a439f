"""The feature-hierarchy findings page's numbers, read from a saved run (`docs/findings.py`).

Besides the run, the page compares with the probes of the layer-hierarchy page, whose numbers
it reads from that page's data file (`docs/findings/data/layer-hierarchy.json`): a probe's
layer b counts boundaries (0 = the embeddings), so the stream after block L is its layer L + 1.
"""

import json
from pathlib import Path
from typing import Any

from experiments.feature_hierarchy.analysis import LEVELS, FeatureHierarchy

PROBES = Path(__file__).parents[2] / "docs" / "findings" / "data" / "layer-hierarchy.json"
PREFIX = {"minilm": "m", "smollm2-135m": "s"}
"""The page's key prefix of each model (the layer-hierarchy page uses the same)."""
SHORT = {"token identity": "token", "part of speech": "POS", "syntax": "syntax",
         "entity/coreference": "entity/coref", "sentiment/genre": "sentiment/genre",
         "position/induction": "position/induction", "unexplained": "unexplained"}  # fmt: skip


def _share(values: list[float]) -> str:
    return f"{values[0]:.2f} [{values[1]:.2f}, {values[2]:.2f}]"


def mean_layer(rows: list[dict[str, Any]], level: str) -> tuple[float, int]:
    """The mean layer (resid_post index) of the live features at ``level``, and their count."""
    weights = [(r["layer"], r["shares"][level][0] * r["live"]) for r in rows]
    total = sum(w for _, w in weights)
    if total == 0:
        return float("nan"), 0
    return sum(layer * w for layer, w in weights) / total, round(total)


def model_values(result: FeatureHierarchy, spec: str, p: str) -> dict[str, str]:
    """One model's numbers, keys prefixed with ``p``."""
    rows = [r for r in result.layers if r["model"] == spec]
    first, last = rows[0], rows[-1]
    shares = "\n".join(
        f"| {r['layer']} | {r['live']} / {r['width']} | "
        + " | ".join(_share(r["shares"][level]) for level in LEVELS) + " |"
        for r in rows
    )  # fmt: skip
    quality = "\n".join(
        f"| {r['layer']} | {r['explained_variance']:.3f} | {r['explained_variance_per_dim']:.3f}"
        f" | {_loss(r)} | {r['l0']:.0f} | {r['dead_fraction']:.2f} |"
        for r in rows
    )  # fmt: skip
    depth = result.depths[spec]
    ranked = sorted((v[0], level) for level, v in depth.items() if v[3] >= 20)
    order = " < ".join(f"{SHORT[level]} {mean:.2f} [{depth[level][1]:.2f}, "
                       f"{depth[level][2]:.2f}]" for mean, level in ranked)  # fmt: skip
    means = {level: mean_layer(rows, level) for level in LEVELS}
    examples = "\n".join(
        f"| {r['layer']} | {SHORT[level]} | {e['feature']} | `{e['label']!r}` ({e['family']}) | "
        f"{e['precision']:.2f} | {e['recall']:.2f} | {e['f1']:.2f} | {e['control_f1']:.2f} |"
        for r in (first, rows[len(rows) // 2], last) for level, e in r["examples"].items()
    )  # fmt: skip
    values = {
        "layers": ", ".join(str(r["layer"]) for r in rows),
        "n_layers_read": str(len(rows)),
        "width": str(first["width"]),
        "shares": shares,
        "quality": quality,
        "order": order,
        "examples": examples,
        "first": str(first["layer"]),
        "last": str(last["layer"]),
        "live_min": str(min(r["live"] for r in rows)),
        "live_max": str(max(r["live"] for r in rows)),
        "eval_tokens": f"{first.get('n_tokens', 0):,}",
    }
    for level in LEVELS:
        key = SHORT[level].replace("/", "_").replace(" ", "_").lower()
        values[f"{key}_first"] = _share(first["shares"][level])
        values[f"{key}_last"] = _share(last["shares"][level])
        peak = max(rows, key=lambda r: r["shares"][level][0])
        values[f"{key}_peak"] = f"{peak['shares'][level][0]:.2f} at layer {peak['layer']}"
        mean, count = means[level]
        values[f"{key}_mean_layer"] = f"{mean:.1f}" if count else "-"
        values[f"{key}_mean_boundary"] = f"{mean + 1:.1f}" if count else "-"
        values[f"{key}_n"] = str(count)
    return {f"{p}_{key}": value for key, value in values.items()}


def _loss(row: dict[str, Any]) -> str:
    loss = row.get("loss_recovered")
    return f"{loss[0]:.3f} ± {loss[1]:.3f} / {loss[2]:.3f} ± {loss[3]:.3f}" if loss else "-"


def findings(result: FeatureHierarchy) -> dict[str, str]:
    """Every number ``docs/findings/templates/feature-hierarchy.md`` shows, by name."""
    values: dict[str, str] = {}
    for spec, p in PREFIX.items():
        values |= model_values(result, spec, p)
    probes = json.loads(PROBES.read_text())
    for p in PREFIX.values():
        for key in ("upos_expected", "deprel_expected", "genre_expected", "upos_best",
                    "deprel_best", "genre_best"):  # fmt: skip
            values[f"{p}_probe_{key}"] = probes[f"{p}_{key}"]
    config = result.provenance.config
    keys = (
        "train_tokens",
        "read_tokens",
        "eval_tokens",
        "loss_tokens",
        "k",
        "expansion",
        "label_sentences",
        "label_reviews",
        "induction_rows",
        "n_shuffles",
        "min_f1",
    )
    for key in keys:
        values[key] = f"{config[key]:,}" if isinstance(config[key], int) else str(config[key])
    values["loss_tokens_flag"] = str(config["loss_tokens"])
    values["verdicts"] = "\n".join(f"- {line}" for line in result.verdicts)
    return values
