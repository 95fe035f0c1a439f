"""The ViT-attention findings pages' numbers, read from saved runs (`docs/findings.py`).

``findings``: the shipped ViTs (vit-digits and vit-shapes, the experiment's defaults);
``cutmix``: one ViT trained with CutMix (the experiment run with ``--models RUN_DIR``).
"""

import math
from typing import Any

from experiments.vit_attention.analysis import ModelFindings, VitAttentionResult
from mechscope.core import mean_and_sem
from mechscope.vision import GridKind


def _join(values: list[float], fmt: str = ".2f") -> str:
    return " / ".join(format(v, fmt) for v in values)


def _and(items: list[str]) -> str:
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def _span(values: list[float], fmt: str) -> str:
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}-{high}"


def _model(f: ModelFindings, prefix: str) -> dict[str, str]:
    """The numbers of one model, keyed ``PREFIX_name``."""
    rows = f.layer_rows()
    distance = f.kinds.distance
    n_layers, n_heads = distance.shape
    closest = int(distance.flatten().argmin())
    claims = f.claims()
    lens = f.lens.summary()
    object_score = f.kinds.score(GridKind.OBJECT)
    object_heads = [h for h, kinds in f.kinds.labels().items() if GridKind.OBJECT in kinds]
    last = rows[-1]
    moved = f.moved  # image: clean log-prob, moved log-prob, clean correct, moved correct
    change, change_se = mean_and_sem(moved[:, 1] - moved[:, 0])
    ablation = {r["label"]: r for r in f.head_ablation}
    out = {
        "n_images": str(f.kinds.n_images),
        "n_patching": str(f.patching.n_images),
        "accuracy": f"{f.accuracy:.3f} ± {f.accuracy_se:.3f}",
        "claims": [f"{c['verdict']}: {c['measured']}".replace("|", "/") for c in claims],
        "closest": f"{float(distance.min()):.2f} px against {f.uniform_px:.2f}",
        "closest_ratio": f"{float(distance.min()) / f.uniform_px:.2f}",
        "closest_head": f"{closest // n_heads}.{closest % n_heads}",
        "layer0_min_ratio": f"{float(distance[0].min()) / f.uniform_px:.2f}",
        "within": f"{100 * (1 - float(distance.min()) / f.uniform_px):.0f}",
        "cls_share": _join([r["cls_share"] for r in rows]),
        "cls_share_se": _span([r["cls_share_se"] for r in rows], ".3f"),
        "cls_chance_times": _span([r["cls_share"] / r["chance"] for r in rows], ".0f"),
        "object_heads": _and([str(h) for h in object_heads]) or "none",
        "object_head_scores": _and(
            [f"{float(object_score[h.layer, h.head]):.2f}" for h in object_heads]
        ),
        "lens": _join([r["accuracy"] for r in lens]),
        "cls_patch": _join(f.patching.cls_effect.tolist()),
        "object_patch": f"{last['object_patch_effect']:.2f} ± {last['object_patch_effect_se']:.2f}",
        "background_patch": (
            f"{last['background_patch_effect']:.2f} ± {last['background_patch_effect_se']:.2f}"
        ),
        "ablation_images": str(ablation["nothing"]["n_images"]) if ablation else "?",
        "ablation_none": f"{ablation['nothing']['accuracy']:.3f}" if ablation else "?",
        "ablation_object": _accuracy(ablation.get("most object-focused heads")),
        "ablation_object_heads": ", ".join(
            ablation.get("most object-focused heads", {}).get("heads", [])
        ),
        "ablation_other": _accuracy(ablation.get("least object-focused heads")),
        "ablation_other_heads": ", ".join(
            ablation.get("least object-focused heads", {}).get("heads", [])
        ),
        "object_needed": _needed(ablation),
        "local": "did" if float(distance[0].min()) <= 0.5 * f.uniform_px else "did not",
        "class_probe": _join(f.class_probe.accuracy.tolist()),
        "class_control": f"{float(f.class_probe.control.max()):.2f}",
        "class_random": f"{float(f.class_probe.random_init.max()):.2f}",
        "probe_train": f"{f.class_probe.n_train:,}",
        "probe_eval": f"{f.class_probe.n_eval:,}",
        "side_after": _join(f.side_probe.accuracy[1:].tolist()),
        "side_after_span": _span(f.side_probe.accuracy[1:].tolist(), ".2f"),
        "side_random_after": _join(f.side_probe.random_init[1:].tolist()),
        "moved_change": f"{change:+.2f} ± {change_se:.2f}",
        "moved_accuracy": f"{float(moved[:, 2].mean()):.3f} -> {float(moved[:, 3].mean()):.3f}",
        "moved_images": str(moved.shape[0]),
    }
    return {f"{prefix}_{k}": v for k, v in out.items() if k != "claims"} | {
        f"{prefix}_claim{i}": v for i, v in enumerate(out["claims"])
    }


def _needed(ablation: dict[str, dict[str, Any]]) -> str:
    """Whether the object heads' ablation costs more than the control's, by 2 s.e."""
    focused = ablation.get("most object-focused heads")
    other = ablation.get("least object-focused heads")
    if focused is None or other is None:
        return "not measured"
    gap = other["accuracy"] - focused["accuracy"]
    se = math.hypot(focused["accuracy_se"], other["accuracy_se"])
    if gap > 2 * se:
        return "the object heads are needed more than the others"
    return "the object heads are no more needed than the others"


def _accuracy(row: dict[str, Any] | None) -> str:
    return "?" if row is None else f"{row['accuracy']:.3f} ± {row['accuracy_se']:.3f}"


def findings(result: VitAttentionResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/vit-attention.md`` shows, by name.

    Needs the two shipped ViTs in the run (the experiment's default ``--models``).
    """
    digits, shapes = result.models["vit-digits"], result.models["vit-shapes"]
    values = _model(digits, "d") | _model(shapes, "s")
    values["claims"] = "\n".join(
        f"| {c['claim']} | {values[f'd_claim{i}']} | {values[f's_claim{i}']} |"
        for i, c in enumerate(digits.claims())
    )
    return values


def cutmix(result: VitAttentionResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/vit-cutmix.md`` shows: the run's one model."""
    (spec, f), *_ = result.models.items()
    values = _model(f, "c")
    config = dict(f.training)
    values |= {
        "spec": spec,
        "steps": str(config.get("step", "?")),
        "elapsed": f"{config['elapsed_s']:.0f}" if "elapsed_s" in config else "?",
        "claims": "\n".join(
            f"| {c['claim']} | {values[f'c_claim{i}']} |" for i, c in enumerate(f.claims())
        ),
    }
    return values
