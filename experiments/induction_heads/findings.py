"""The induction-heads findings page's numbers, read from a saved run (`docs/findings.py`)."""

import math
from typing import Any

from experiments.induction_heads.result import (
    INDUCTION_1L,
    INDUCTION_2L,
    InductionResult,
    best_induction,
)


def _span(values: list[float], fmt: str) -> str:
    low, high = min(values), max(values)
    first, last = format(low, fmt), format(high, fmt)
    return first if first == last else f"{first} to {last}"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {round(seconds % 60)} s"


def findings(result: InductionResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/induction.md`` shows, formatted, by name.

    Training figures come from the logged evaluations of the runs the result was built from
    (the shipped ones by default); the rest from the run's own analysis.
    """
    two, one = result.metrics[INDUCTION_2L], result.metrics[INDUCTION_1L]
    pc = result.phase_change
    steps = [r["step"] for r in two]
    drop = steps.index(pc.loss_drop_step)
    before, after = pc.before, pc.after
    scores = result.head_scores[INDUCTION_2L]
    induction = [str(h) for h in result.induction_heads]
    previous = [str(h) for h in result.previous_token_heads]
    kc = result.k_composition
    prev_rows = [h.head for h in result.previous_token_heads if h.layer == 0]
    ind_cols = [h.head for h in result.induction_heads if h.layer == 1]
    into = [float(kc[p, i]) for p in prev_rows for i in ind_cols]
    others = [r for r in range(kc.shape[0]) if r not in prev_rows]
    highest = all(
        float(kc[p, i]) >= float(kc[:, i].max()) - 1e-9 for p in prev_rows for i in ind_cols
    )
    ablation = {(r["label"], r["how"]): r for r in result.ablations}
    icl = {(r["label"], r["how"]): r for r in result.icl_ablations}
    loss = result.losses
    logged_before = [
        r["icl_score"] for r in two if 200 <= r["step"] <= before["step"] and _finite(r)
    ]
    logged_1l = [r["icl_score"] for r in one if r["step"] > 50 and _finite(r)]
    se_logged = [
        r["icl_score_se"] for r in two if 200 <= r["step"] <= before["step"] and _finite(r)
    ]
    final_logged = two[-1]
    none = icl[("none", "none")]
    diff = abs(final_logged["icl_score"] - none["icl_score"])
    combined = math.hypot(final_logged["icl_score_se"], none["icl_score_se"])
    removed = [
        icl[("induction heads", how)]["change"] / -none["icl_score"] for how in ("zero", "mean")
    ]
    config = result.train_configs[INDUCTION_2L]
    layer0 = [f"0.{i}" for i in range(kc.shape[0])]
    quiet = [h for h in layer0 if ablation[(h, "mean")]["repeat_second_half_loss"] < 0.5]
    loud = [h for h in layer0 if h not in quiet]
    loud_other = [int(h[2:]) for h in loud if h not in previous]
    by_step = {r["step"]: r for r in two}
    after_steps = [
        s for s in (pc.loss_drop_step + 50, int(after["step"]), steps[-1]) if s in by_step
    ]

    def row(label: str, how: str, field: str) -> str:
        return f"{ablation[(label, how)][field]:.2f}"

    def icl_row(label: str, how: str) -> str:
        r = icl[(label, how)]
        return f"{r['icl_score']:+.3f} ± {r['icl_score_se']:.3f}"

    def change(label: str, how: str) -> str:
        r = icl[(label, how)]
        return f"{r['change']:+.3f} ± {r['change_se']:.3f}"

    return {
        "steps": str(config["steps"]),
        "d_model": str(config["d_model"]),
        "n_heads": str(config["n_heads"]),
        "n_ctx": str(config["n_ctx"]),
        "batch_size": str(config["batch_size"]),
        "lr": f"{config['lr']:g}",
        "warmup": str(config["warmup_steps"]),
        "span": f"{config['span_min']}-{config['span_max']}",
        "repeat_fraction": f"{config['repeat_fraction']:g}",
        "eval_every": str(config["eval_every"]),
        "logged_windows": f"{config['icl_windows']:,}",
        "wall_time": _minutes(final_logged["elapsed_s"]),
        "phase_step": str(pc.loss_drop_step),
        "phase_between": f"{steps[drop - 1]} and {steps[drop]}",
        "jump_step": str(pc.induction_jump_step),
        "second_before": f"{before['repeat_second_half_loss']:.2f}",
        "second_after": f"{after['repeat_second_half_loss']:.2f}",
        "second_end": f"{final_logged['repeat_second_half_loss']:.2f}",
        "first_copy": _span([r["repeat_first_half_loss"] for r in two], ".1f"),
        "before_step": str(int(before["step"])),
        "after_step": str(int(after["step"])),
        "score_before": f"{before['best_induction_score']:.3f}",
        "score_after": f"{after['best_induction_score']:.2f}",
        "score_end": f"{best_induction(final_logged):.2f}",
        "analysis_rows": str(_config(result, "eval_prompts")),
        "induction_heads": ", ".join(induction),
        "induction_scores": ", ".join(
            f"{scores['induction'][int(h[0])][int(h[2:])]:.2f}" for h in induction
        ),
        "score_1l_end": f"{best_induction(one[-1]):.3f}",
        "score_1l_max": f"{max(best_induction(r) for r in one):.3f}",
        "previous_heads": ", ".join(previous),
        "previous_score": ", ".join(
            f"{scores['previous_token'][0][int(h[2:])]:.3f}" for h in previous
        ),
        "kc_into": _span(into, ".3f"),
        "kc_highest": "the highest of any layer-0 head" if highest else "not the highest",
        "kc_others": _span([float(kc[r, i]) for r in others for i in ind_cols], ".3f"),
        "kc_baseline": f"{result.k_composition_baseline:.3f}",
        "ablate_induction": (
            f"{row('none', 'none', 'repeat_second_half_loss')} -> "
            f"{row('induction heads', 'zero', 'repeat_second_half_loss')} (zero) / "
            f"{row('induction heads', 'mean', 'repeat_second_half_loss')} (mean); first-copy "
            f"loss {row('induction heads', 'zero', 'repeat_first_half_loss')} / "
            f"{row('induction heads', 'mean', 'repeat_first_half_loss')}"
        ),
        "quiet_heads": " and ".join(quiet) or "none",
        "quiet_losses": " / ".join(row(h, "mean", "repeat_second_half_loss") for h in quiet),
        "loud_heads": " or ".join(loud),
        "loud_losses": " and ".join(row(h, "zero", "repeat_second_half_loss") for h in loud),
        "loud_other": " and ".join(f"0.{i}" for i in loud_other) or "none",
        "loud_other_kc": _span(
            [float(kc[r, i]) for r in loud_other for i in ind_cols] or [0.0], ".3f"
        ),
        "all_other": (
            f"{row('all other heads', 'zero', 'repeat_second_half_loss')} zero, "
            f"{row('all other heads', 'mean', 'repeat_second_half_loss')} mean"
        ),
        "logged_before": _span(logged_before, "+.3f"),
        "logged_before_mean": f"{sum(logged_before) / len(logged_before):+.3f}",
        "logged_se": _span(se_logged, ".2f"),
        "logged_after": " / ".join(f"{by_step[s]['icl_score']:+.2f}" for s in after_steps),
        "logged_after_steps": " / ".join(map(str, after_steps)),
        "logged_1l": _span(logged_1l, "+.2f"),
        "icl_windows": f"{none['n_windows']:,}",
        "icl_2l": _score(loss[INDUCTION_2L]),
        "icl_1l": _score(loss[INDUCTION_1L]),
        "icl_zero": icl_row("induction heads", "zero"),
        "icl_zero_change": change("induction heads", "zero"),
        "icl_mean": icl_row("induction heads", "mean"),
        "icl_mean_change": change("induction heads", "mean"),
        "icl_prev": (
            f"{change('previous-token heads', 'zero')} / {change('previous-token heads', 'mean')}"
        ),
        "final_logged": f"{final_logged['icl_score']:+.2f} ± {final_logged['icl_score_se']:.2f}",
        "draw_difference": f"{diff:.2f}",
        "draw_se": f"{combined:.3f}",
        "removed": _span([100 * r for r in removed], ".0f"),
    }


def _score(losses: dict[str, float]) -> str:
    return f"{losses['icl_score']:+.3f} ± {losses['icl_score_se']:.3f}"


def _finite(record: dict[str, Any]) -> bool:
    value = record.get("icl_score")
    return value is not None and math.isfinite(value)


def _config(result: InductionResult, key: str) -> Any:  # noqa: ANN401 - a config value
    return (result.provenance.config or {}).get(key, "?")
