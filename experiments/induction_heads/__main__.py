"""``python -m experiments.induction_heads``: run the reproduction and print its key tables."""

import sys
from collections.abc import Iterator, Sequence

from experiments.induction_heads.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.induction_heads"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - an InductionResult
    """Print the phase change, the head table, the ablations and the ICL attribution."""
    from experiments.induction_heads.result import INDUCTION_1L, INDUCTION_2L
    from mechscope.core import HeadId

    scores = result.head_scores[INDUCTION_2L]
    induction, previous = set(result.induction_heads), set(result.previous_token_heads)
    pc = result.phase_change
    yield (
        f"phase change (2-layer): repeated-token loss drops fastest at step {pc.loss_drop_step}, "
        f"induction score jumps fastest at step {pc.induction_jump_step}"
    )
    yield f"\n2-layer heads (threshold {cfg.threshold}):"
    yield "head   induction  prev-token  prefix-match  label"
    for layer, row in enumerate(scores["induction"]):
        for head, value in enumerate(row):
            hid = HeadId(layer, head)
            label = "induction" if hid in induction else "previous-token" if hid in previous else ""
            yield (
                f"{hid!s:<6} {value:>9.3f}  {scores['previous_token'][layer][head]:>10.3f}  "
                f"{scores['prefix_matching'][layer][head]:>12.3f}  {label}"
            )
    best_1l = max(max(r) for r in result.head_scores[INDUCTION_1L]["induction"])
    yield f"1-layer model: best induction score {best_1l:.3f}"
    yield "\nablation (2-layer)          2nd-copy loss  1st-copy loss"
    for row in result.ablations:
        if row["label"] in ("none", "induction heads", "all other heads"):
            name = f"{row['label']} ({row['how']})"
            yield (
                f"{name:<28} {row['repeat_second_half_loss']:>13.3f}"
                f"  {row['repeat_first_half_loss']:>13.3f}"
            )
    n = result.icl_ablations[0]["n_windows"]
    yield f"\nICL score on {n} held-out windows (late minus early band; ± standard error)"
    for name in (INDUCTION_2L, INDUCTION_1L):
        losses = result.losses[name]
        yield f"  {name}: {losses['icl_score']:+.3f} ± {losses['icl_score_se']:.3f}"
    for row in result.icl_ablations[1:]:
        yield (
            f"  2-layer, {row['label']} {row['how']}-ablated: {row['icl_score']:+.3f} "
            f"± {row['icl_score_se']:.3f} (change {row['change']:+.3f} ± {row['change_se']:.3f})"
        )
    yield f"\nreport: {cfg.out / 'report.html'}"
    yield f"figures as JSON and tensors: {cfg.out}"


if __name__ == "__main__":
    sys.exit(main())
