"""``python -m experiments.smollm_dla``: attribute facts and IOI, print the top writers."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.smollm_dla.config import Config


def main(argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_dla") -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.smollm_dla.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the top parts of each task and the copying scores."""
    for task, rows in result.top.items():
        print(f"{task}: largest direct effects (mean ± s.e. over prompts)")  # noqa: T201
        for row in rows:
            print(f"  {row['part']:<10} {row['mean']:>8.3f} ± {row['sem']:.3f}")  # noqa: T201
    for row in result.copying:
        print(
            f"induction head {row['head']}: score {row['induction']:.2f}, "  # noqa: T201
            f"copying {row['copying']:.2f}"
        )
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
