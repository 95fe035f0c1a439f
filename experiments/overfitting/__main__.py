"""``python -m experiments.overfitting``: over-fitting, class geometry and rank over training."""

import sys
from collections.abc import Iterator, Sequence

from experiments.overfitting.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None, prog: str = "python -m experiments.overfitting") -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print each seed's stop and the geometry at its best and last checkpoints."""
    for seed, (best, stop) in enumerate(zip(result.best_step(), result.stopped_at, strict=True)):
        steps = result.steps.tolist()
        last = max(i for i, v in enumerate(result.held_out[seed].tolist()) if v == v)
        first = 1  # the first checkpoint
        ratio, rank = result.ratio[seed], result.rank[seed]
        yield (
            f"seed {seed}: best held-out loss at step {best}, stopped at {stop}; class ratio "
            f"at steps {steps[first]} / {best} / {steps[last]}: "
            + " | ".join(f"b{b} {ratio[first, b]:.3f} {ratio[steps.index(best), b]:.3f} "
                         f"{ratio[last, b]:.3f}" for b in range(ratio.shape[-1]))
            + "; effective rank: "
            + " | ".join(f"b{b} {rank[first, b]:.1f} {rank[steps.index(best), b]:.1f} "
                         f"{rank[last, b]:.1f}" for b in range(rank.shape[-1]))
        )  # fmt: skip
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
