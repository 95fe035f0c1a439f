"""The SmolLM2 features findings page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.smollm_features.analysis import SmolFeatures


def _tokens(tokens: list[str], n: int = 4) -> str:
    return ", ".join(f"`{t!r}`" for t in tokens[:n])


def _table(rows: list[dict[str, Any]]) -> str:
    lines = ["| layer | feature | exact (normalised) | first-order estimate | promotes | label |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        for f in row["features"][:3]:
            lines.append(
                f"| {row['layer']} | {f['feature']} | {f['normalised']:+.3f} | "
                f"{f['estimate_normalised']:+.3f} | {_tokens(f['promoted'])} | {f['label']} |"
            )
    return "\n".join(lines)


def _own(row: dict[str, Any]) -> float:
    """The mean over the per-prompt runs of each prompt's own best feature's effect."""
    runs = row["per_prompt"]
    return sum(p["normalised"] for p in runs) / max(len(runs), 1)


def _sets(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| layer | every feature | the error term alone | best single feature, all prompts | "
        "top features together | each prompt's own best feature, mean (feature: effect) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        own = ", ".join(f"{p['feature']}: {p['normalised']:+.2f}" for p in row["per_prompt"])
        lines.append(f"| {row['layer']} | {row['all_features']:+.3f} | {row['error_term']:+.3f} | "
                     f"{row['features'][0]['normalised']:+.3f} | "
                     f"{row['together']:+.3f} | {_own(row):+.3f} ({own}) |")  # fmt: skip
    return "\n".join(lines)


def findings(result: SmolFeatures) -> dict[str, str]:
    """Every number ``docs/findings/templates/smollm-features.md`` shows, by name."""
    values: dict[str, str] = {}
    for task, key in (("ioi-abc", "ioi"), ("capitals", "facts")):
        rows = [r for r in result.patching if r["task"] == task]
        best = max(rows, key=lambda r: r["features"][0]["normalised"])
        top = best["features"][0]
        values |= {
            f"{key}_table": _table(rows),
            f"{key}_clean": f"{rows[0]['clean']:.2f}",
            f"{key}_corrupted": f"{rows[0]['corrupted']:.2f}",
            f"{key}_best_layer": str(best["layer"]),
            f"{key}_best_feature": str(top["feature"]),
            f"{key}_best_effect": f"{top['normalised']:.3f}",
            f"{key}_best_promoted": _tokens(top["promoted"]),
            f"{key}_best_label": top["label"],
            f"{key}_layers": ", ".join(str(r["layer"]) for r in rows),
            f"{key}_per_layer": "; ".join(
                f"layer {r['layer']} {r['features'][0]['normalised']:.3f}" for r in rows
            ),
            f"{key}_sets": _sets(rows),
            f"{key}_together_best": str(max(rows, key=lambda r: r["together"])["layer"]),
            f"{key}_together_max": f"{max(r['together'] for r in rows):.3f}",
            f"{key}_own_max": f"{max(_own(r) for r in rows):.3f}",
            f"{key}_own_layer": str(max(rows, key=_own)["layer"]),
            f"{key}_n_own": str(len(rows[0]["per_prompt"])),
        }
    steering = "\n".join(
        f"| {r['what']} | {r['prompt']!r} | {r['added']:.1f} | {r['clean']!r} | "
        f"{r['steered']!r} | {', '.join(f'`{t!r}` {p:+.3f}' for t, p in r['gained'][:3])} | "
        f"{r['kl']:.3f} |"
        for r in result.steering
    )  # fmt: skip
    config = result.provenance.config
    values |= {
        "steering": steering or "| (no steering case: no labels or no fact rows) | | | | | | |",
        "n_prompts": str(config["n_prompts"]),
        "top_k": str(config["top_k"]),
        "per_prompt": str(config["per_prompt"]),
        "steer_layer": str(config["steer_layer"]),
        "steer_scale": str(config["steer_scale"]),
    }
    return values
