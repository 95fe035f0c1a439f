"""The layer-hierarchy findings page's numbers, read from a saved run (`docs/findings.py`)."""

import math
from typing import Any

from experiments.layer_hierarchy.analysis import HierarchyResult

NAMES = {"minilm": "MiniLM", "smollm2-135m": "SmolLM2"}
TASKS = {"upos": "UPOS", "deprel": "dependency relation", "depth": "depth",
         "distance": "distance to head", "genre": "genre (sentences)"}  # fmt: skip
ONSET = 0.98
"""Outlier features rule from the first boundary from which, up to the last but one, the 3
largest-variance features hold at least this share of the variance."""


def _span(values: list[float], fmt: str) -> str:
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"


def _layers(layers: list[int]) -> str:
    if not layers:
        return ""
    if layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 2:
        return f"{layers[0]}-{layers[-1]}"
    return ", ".join(map(str, layers))


def model_values(result: HierarchyResult, spec: str, prefix: str) -> dict[str, str]:
    """The numbers of one model, keyed ``PREFIX_name``."""
    extra = result.extra[spec]
    checks = extra["checks"]
    boundaries: list[int] = extra["boundaries"]
    n_layers = boundaries[-1]
    rows = {r["task"]: r for r in result.rows if r["model"] == spec}
    curves = checks["curves"]
    name = NAMES.get(spec, spec)
    table = []
    for i, (task, label) in enumerate(TASKS.items()):
        r = rows[task]
        tied = r["tied_layers"]
        best = f"{r['best_layer']}" + (f" ({_layers(tied)})" if len(tied) > 1 else "")
        first = f"{name} ({n_layers} layers)" if i == 0 else ""
        table.append(
            f"| {first} | {label} | {best} | {r['best']:.3f} [{r['ci_low']:.3f}, "
            f"{r['ci_high']:.3f}] | {r['expected_layer']:.2f} | {r['selectivity']:.3f} | "
            f"{r['random_init']:.3f} | {r['majority']:.3f} |"
        )
    uuas, dspr = rows["structural uuas"], rows["structural dspr"]
    root, nspr = rows["structural root_accuracy"], rows["structural nspr"]
    table.append(
        f"| | structural UUAS / DSpr. | {uuas['best_layer']} / {dspr['best_layer']} | "
        f"{uuas['best']:.3f} / {dspr['best']:.3f} | | | {uuas['random_init']:.3f} / "
        f"{dspr['random_init']:.3f} | chain {uuas['majority']:.3f} |"
    )
    table.append(
        f"| | root accuracy / NSpr. | {root['best_layer']} / {nspr['best_layer']} | "
        f"{root['best']:.3f} / {nspr['best']:.3f} | | | {root['random_init']:.3f} / "
        f"{nspr['random_init']:.3f} | |"
    )
    inner = [i for i, b in enumerate(boundaries) if 0 < b < n_layers]
    deprel = curves["deprel"]["accuracy"]
    uuas_curve = curves["structural uuas"]["accuracy"]
    outliers = checks["outliers"]
    shares = [o["top_share"] for o in outliers]
    onset = next((i for i in range(1, len(shares) - 1)
                  if all(share >= ONSET for share in shares[i:-1])), None)  # fmt: skip
    cka = checks["cka"]
    standardized = checks["cka_standardized"]
    neighbours = [cka[i][i + 1] for i in range(len(cka) - 1)]
    upos_sel = curves["upos"]["selectivity"]
    structural = checks["structural"]
    word_expected = [rows[t]["expected_layer"] for t in ("upos", "deprel", "depth", "distance")]
    out = {
        "table": "\n".join(table),
        "n_layers": str(n_layers),
        "boundaries": ", ".join(map(str, boundaries[:3])) + f", ..., {n_layers}",
        "train_sentences": f"{extra['train_sentences']:,}",
        "train_words": f"{extra.get('train_words', rows['upos']['n_train']):,}",
        "eval_words": f"{rows['upos']['n_eval']:,}",
        "eval_sentences": f"{rows['genre']['n_eval']:,}",
        "upos_expected": f"{rows['upos']['expected_layer']:.2f}",
        "deprel_expected": f"{rows['deprel']['expected_layer']:.2f}",
        "upos_depth": f"{rows['upos']['expected_layer'] / n_layers:.2f}",
        "deprel_depth": f"{rows['deprel']['expected_layer'] / n_layers:.2f}",
        "pos_first": (
            "<" if rows["upos"]["expected_layer"] < rows["deprel"]["expected_layer"] else ">="
        ),
        "upos_best": str(rows["upos"]["best_layer"]),
        "upos_tied": _layers(rows["upos"]["tied_layers"]),
        "deprel_best": str(rows["deprel"]["best_layer"]),
        "deprel_tied": _layers(rows["deprel"]["tied_layers"]),
        "deprel_inner": _span([deprel[i] for i in inner], ".3f"),
        "inner_layers": f"{boundaries[inner[0]]} to {boundaries[inner[-1]]}" if inner else "",
        "uuas_best": f"{uuas['best']:.3f}",
        "uuas_layer": str(uuas["best_layer"]),
        "uuas_chain": f"{uuas['majority']:.3f}",
        "uuas_over_chain": f"{uuas['best'] - uuas['majority']:+.2f}",
        "uuas_over_random": f"{uuas['best'] - uuas['random_init']:+.2f}",
        "uuas_last": f"{uuas_curve[-1]:.2f}",
        "beats_chain": "does" if uuas["best"] > uuas["majority"] else "does not",
        "genre_best": str(rows["genre"]["best_layer"]),
        "genre_tied": _layers(rows["genre"]["tied_layers"]) or str(rows["genre"]["best_layer"]),
        "genre_expected": f"{rows['genre']['expected_layer']:.1f}",
        "word_expected": _span(word_expected, ".1f"),
        "upos_sel_first": f"{upos_sel[0]:.2f}",
        "upos_sel_last": f"{upos_sel[-1]:.2f}",
        "upos_last_accuracy": f"{curves['upos']['accuracy'][-1]:.3f}",
        "negative_depth": f"{sum(s < 0 for s in curves['depth']['selectivity'])}",
        "negative_distance": f"{sum(s < 0 for s in curves['distance']['selectivity'])}",
        "n_boundaries": str(len(boundaries)),
        "upos_random": f"{rows['upos']['random_init']:.2f}",
        "cka_words": f"{checks['n_eval_words']:,}",
        "cka_neighbours": _span(neighbours[:-1], ".2f"),
        "cka_last_pair": f"{neighbours[-1]:.2f}",
        "cka_last_pair_layers": f"{boundaries[-2]} and {boundaries[-1]}",
        "cka_first_last": f"{cka[0][-1]:.2f}",
        "n_features": str(outliers[0]["n_features"]),
    }
    if structural:  # refits at the worst boundary (the experiment's structural_checks)
        out |= {
            "check_layer": str(boundaries[structural["index"]]),
            "check_raw": f"{structural['raw_uuas']:.2f}",
            "check_standardized": f"{structural['standardized_uuas']:.2f}",
            "check_lr10": f"{structural['standardized_lr10_uuas']:.2f}",
        }
    if onset is not None:
        late = list(range(onset, len(boundaries) - 1))  # from the onset to the last but one
        early = [i for i in range(1, onset)]
        top = outliers[onset]

        def between(matrix: list[list[float]], rows_: list[int], cols: list[int]) -> str:
            return _span([matrix[i][j] for i in rows_ for j in cols if i != j], ".2f")

        out |= {
            "onset": str(boundaries[onset]),
            "before_onset": str(boundaries[onset - 1]),
            "late_layers": f"{boundaries[late[0]]}-{boundaries[late[-1]]}",
            "early_layers": f"{boundaries[early[0]]}-{boundaries[early[-1]]}" if early else "",
            "onset_share": f"{100 * min(shares[onset:-1]):.0f}",
            "top_feature": str(top["top_feature"]),
            "top_mean_abs": f"{top['top_mean_abs']:,.0f}",
            "prev_top_mean_abs": f"{outliers[onset - 1]['top_mean_abs']:,.0f}",
            "prev_share": f"{100 * outliers[onset - 1]['top_share']:.0f}",
            "median_mean_abs": f"{top['median_mean_abs']:.1f}",
            "uuas_late": _span([uuas_curve[i] for i in late], ".2f"),
            "cka_late": between(cka, late, late),
            "cka_late_early": between(cka, late, early),
            "cka_late_std": between(standardized, late, late),
            "cka_late_early_std": between(standardized, late, early),
        }
    return {f"{prefix}_{k}": v for k, v in out.items()}


def phase_values(result: HierarchyResult) -> dict[str, str]:
    """The phase-change numbers: CKA between consecutive checkpoints around the change."""
    steps = result.steps.tolist()
    # the steepest drop ends at phase_step: the checkpoints either side of it
    before = max(s for s in steps if s < result.phase_step)
    after = min(s for s in steps if s >= result.phase_step)
    i, j = steps.index(before), steps.index(after)
    calm = [k for k, s in enumerate(steps) if 500 <= s < before]
    lines = []
    names = ["embeddings", "after layer 0 (previous-token heads)",
             "after layer 1 (induction heads)"]  # fmt: skip
    for b in range(result.repeated_previous.shape[1]):
        prev = result.repeated_previous[:, b].tolist()
        final = result.repeated_final[:, b].tolist()
        calm_values = [prev[k] for k in calm if math.isfinite(prev[k])]
        lines.append(
            f"| {names[b] if b < len(names) else f'boundary {b}'} | "
            f"{_span(calm_values, '.2f') if calm_values else '-'} | {prev[i]:.3f} | "
            f"{prev[j]:.3f} | {prev[min(j + 1, len(prev) - 1)]:.3f} | "
            f"{final[i]:.3f} -> {final[j]:.3f} -> {final[min(j + 1, len(final) - 1)]:.3f} |"
        )
    text_low = []
    for b in range(result.text_previous.shape[1]):
        values = [(v, s) for v, s in zip(result.text_previous[:, b].tolist(), steps, strict=True)
                  if s >= 500 and math.isfinite(v)]  # fmt: skip
        value, step = min(values)
        text_low.append(f"{value:.3f} at step {step}")
    layer1_prev = result.repeated_previous[:, -1].tolist()
    usable = [k for k in range(len(steps)) if steps[k] >= 500 and math.isfinite(layer1_prev[k])]
    low_k = min(usable, key=lambda k: layer1_prev[k])
    return {
        "phase_step": str(result.phase_step),
        "last_step": f"{steps[-1]:,}",
        "every": str(steps[1] - steps[0]),
        "calm": f"{steps[calm[0]]}-{steps[calm[-1]]}" if calm else "-",
        "before": str(before),
        "after": str(after),
        "after2": str(steps[min(j + 1, len(steps) - 1)]),
        "phase_table": "\n".join(lines),
        "text_lowest": ", ".join(text_low),
        "layer1_low": f"{layer1_prev[low_k]:.2f} at step {steps[low_k]}",
        "layer1_final": " -> ".join(
            f"{float(result.repeated_final[k, -1]):.2f}" for k in (i, j, min(j + 1, len(steps) - 1))
        ),
    }


def findings(result: HierarchyResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/layer-hierarchy.md`` shows, by name.

    Needs both default models in the run (MiniLM and SmolLM2).
    """
    values: dict[str, Any] = model_values(result, "minilm", "m")
    values |= model_values(result, "smollm2-135m", "s") | phase_values(result)
    return values
