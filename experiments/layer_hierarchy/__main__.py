"""``python -m experiments.layer_hierarchy``: probes by layer and CKA across a phase change."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.layer_hierarchy.config import Config


def main(argv: Sequence[str] | None = None,
         prog: str = "python -m experiments.layer_hierarchy") -> int:  # fmt: skip
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.layer_hierarchy.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the summary table, the ordering verdicts and the phase-change CKA."""
    for row in result.rows:
        print(  # noqa: T201
            f"{row['model']:<13} {row['task']:<10} best layer {row['best_layer']:>2} "
            f"({row['best']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]), expected layer "
            f"{row['expected_layer']:.2f}, selectivity at best {row['selectivity']:+.3f}, "
            f"random-init {row['random_init']:.3f}, majority {row['majority']:.3f}"
        )
    for line in result.verdicts:
        print(line)  # noqa: T201
    print(result.phase_summary)  # noqa: T201
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
