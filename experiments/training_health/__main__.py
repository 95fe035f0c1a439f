"""``python -m experiments.training_health``: gradient health and entropy collapse over training."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.training_health.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.training_health"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.training_health.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the summary table of the report."""
    for row in result.summary(cfg.collapse_nats, cfg.divergence_nats):
        print("; ".join(f"{k}: {v}" for k, v in row.items()))  # noqa: T201
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
