"""The hierarchy findings page's numbers, read from a saved run (`docs/findings.py`)."""

from typing import Any

from experiments.hierarchy.analysis import Hierarchy

PREFIX = {"SmolLM2": "s", "MiniLM": "m"}


def _profile_rows(result: Hierarchy, model: str) -> str:
    rows = []
    for r in result.profiles:
        if r["model"] != model:
            continue
        expected = (f"{r['expected']:.2f} [{r['expected_low']:.2f}, {r['expected_high']:.2f}]"
                    if "expected" in r else "-")  # fmt: skip
        rows.append(f"| {r['what']} | {r['source']} | {r['peak']:.2f} | "
                    f"{r['tied_low']:.2f}-{r['tied_high']:.2f} | {r['peak_value']:.3f} | "
                    f"{expected} |")  # fmt: skip
    return "\n".join(rows)


def _dropping_rows(extra: dict[str, Any]) -> str:
    rows = []
    for name, v in extra.get("dropping", {}).items():
        single, cumulative, ks = v["single"], v["cumulative"], v["top_ks"]
        third = min(range(len(ks)), key=lambda i: abs(ks[i] - len(single) / 3))
        rows.append(f"| {name} | {v['intact']:.3f} | {v['most_needed']} "
                    f"({single[v['most_needed']]:.3f}) | {min(single):.3f}-{max(single):.3f} | "
                    f"{cumulative[0]:.3f} | {cumulative[third]:.3f} (top {ks[third]}) "
                    "|")  # fmt: skip
    return "\n".join(rows) or "| (not run) | | | | | |"


def _finetune_rows(extra: dict[str, Any]) -> str:
    rows = []
    for r in extra.get("finetune", []):
        cka = [r[k] for k in r if k.startswith("cka ")]
        rows.append(f"| {r['frozen']} | {r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                    f" | {r['min']:.3f}-{r['max']:.3f} | "
                    + " / ".join(f"{c:.2f}" for c in cka) + " |")  # fmt: skip
    return "\n".join(rows) or "| (not run) | | | |"


def findings(result: Hierarchy) -> dict[str, str]:
    """Every number the page shows."""
    config = result.provenance.config
    values: dict[str, str] = {
        "verdicts": "\n".join(
            f"| {v['claim']}. {v['statement']} | {v['model']} | **{v['verdict']}** | "
            f"{v['evidence']} |" for v in result.verdicts),
        "train_sentences": str(config.get("train_sentences")),
        "eval_sentences": str(config.get("eval_sentences")),
        "sst2_train": str(config.get("sst2_train")),
        "sst2_eval": str(config.get("sst2_eval")),
        "coref_sentences": str(config.get("coref_sentences")),
        "attention_sentences": str(config.get("attention_sentences")),
        "dropping_sentences": str(config.get("dropping_sentences")),
        "finetune_train": str(config.get("finetune_train")),
        "finetune_eval": str(config.get("finetune_eval")),
        "finetune_seeds": str(len(config.get("finetune_seeds") or ())),
    }  # fmt: skip
    for model, p in PREFIX.items():
        extra = result.extras.get(model, {})
        values[f"{p}_profiles"] = _profile_rows(result, model)
        values[f"{p}_dropping"] = _dropping_rows(extra)
        values[f"{p}_finetune"] = _finetune_rows(extra)
        values[f"{p}_finetune_majority"] = f"{extra.get('finetune_majority', float('nan')):.3f}"
        coref = extra.get("coref_baselines", (float("nan"), float("nan")))
        values[f"{p}_nearest"], values[f"{p}_head_match"] = f"{coref[0]:.3f}", f"{coref[1]:.3f}"
    return values
