"""``python -m experiments.smollm_facts``: run the facts logit lens and print its key table."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.smollm_facts.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_facts"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.smollm_facts.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the key numbers."""
    kept = int(result.kept.sum())
    print(f"{kept} of {len(result.facts)} single-token facts answered at top-1")  # noqa: T201
    print(f"{'boundary':<16} {'median rank':>11} {'p(answer)':>10} {'KL':>7}")  # noqa: T201
    for row in result.summary():
        print(  # noqa: T201
            f"{row['boundary']:<16} {row['median_rank']:>11.0f} {row['prob']:>10.3f} "
            f"{row['kl']:>7.3f}"
        )
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
