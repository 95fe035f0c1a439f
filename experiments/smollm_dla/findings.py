"""The direct logit attribution findings page's numbers, read from a saved run."""

import torch

from experiments.smollm_dla.analysis import DlaResult

LENS_NEAR = 1000
"""The logit-lens rank below which the answer counts as near the top."""


def findings(result: DlaResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/smollm-dla.md`` shows, formatted, by name."""
    top = result.top
    belt = torch.tensor(result.belt)
    steps = belt.diff(prepend=torch.zeros(1))  # each part's own direct effect
    order = steps.abs().argsort(descending=True)[:5].tolist()
    negative = (belt < 0).nonzero().flatten().tolist()
    turn = negative[-1] if negative else 0  # the last part after which the logit is negative
    near = next((b for b, rank in enumerate(result.lens_rank) if rank <= LENS_NEAR), None)
    copying = torch.tensor([r["copying"] for r in result.copying])
    induction = torch.tensor([r["induction"] for r in result.copying])
    everything = result.copying_all.flatten()
    everything = everything[~everything.isnan()]
    return {
        "error": f"{max(result.errors.values()):.1e}",
        "n_facts": str(result.values["facts"].shape[-1]),
        "n_ioi": str(result.values["ioi"].shape[-1]),
        "facts_top": _parts(top["facts"][:6]),
        "ioi_top": _parts(top["ioi"][:6]),
        "paris_logit": f"{float(belt[-1]):.2f}",
        "paris_parts": ", ".join(f"{result.belt_labels[i]} {float(steps[i]):.2f}" for i in order),
        "paris_turn": result.belt_labels[turn],
        "paris_min": f"{float(belt[: turn + 1].min()):.1f}",
        "paris_jump_part": result.belt_labels[min(turn + 1, len(belt) - 1)],
        "paris_jump": f"{float(steps[min(turn + 1, len(belt) - 1)]):.1f}",
        "lens_near": (
            f"after block {near - 1} ({result.lens_rank[near]})" if near else "never"
        ),  # fmt: skip
        "n_induction": str(len(result.copying)),
        "induction_range": f"{float(induction.min()):.2f}-{float(induction.max()):.2f}",
        "copying_heads": ", ".join(f"{r['head']} {r['copying']:.2f}" for r in result.copying),
        "copying_above_half": f"{int((copying > 0.5).sum())} of {len(copying)}",
        "n_heads": str(everything.numel()),
        "copying_median": f"{float(everything.median()):.2f}",
        "copying_above_09": str(int((everything > 0.9).sum())),
    }


def _parts(rows: list[dict]) -> str:
    return ", ".join(f"{r['part']} {r['mean']:.2f} ± {r['sem']:.2f}" for r in rows)
