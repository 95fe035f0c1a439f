"""``python -m experiments.induction_circuits``: read the circuit and print the claims."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.induction_circuits.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.induction_circuits"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.induction_circuits.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the claims table."""
    for row in result.claims:
        print(f"{row['claim']}: {row['measured']} [{row['verdict']}]")  # noqa: T201
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
