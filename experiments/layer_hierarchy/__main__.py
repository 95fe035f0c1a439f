"""``python -m experiments.layer_hierarchy``: probes by layer and CKA across a phase change."""

import sys
from collections.abc import Iterator, Sequence

from experiments.layer_hierarchy.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None,
         prog: str = "python -m experiments.layer_hierarchy") -> int:  # fmt: skip
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(outcome, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - an Outcome
    """Print the summary table, the ordering verdicts and the phase-change CKA."""
    result = outcome.main
    for row in result.rows:
        yield (
            f"{row['model']:<13} {row['task']:<10} best layer {row['best_layer']:>2} "
            f"({row['best']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]), expected layer "
            f"{row['expected_layer']:.2f}, selectivity at best {row['selectivity']:+.3f}, "
            f"random-init {row['random_init']:.3f}, majority {row['majority']:.3f}"
        )
    yield from result.verdicts
    yield result.phase_summary
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
