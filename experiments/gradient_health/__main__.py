"""``python -m experiments.gradient_health``: per-block gradient norms, post-LN vs pre-LN."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.gradient_health.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.gradient_health"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.gradient_health.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the per-block norms of both kinds of model."""
    for name, norms in result.norms.items():
        mean, n = norms.mean(-1), norms.shape[-1]
        sem = norms.std(-1) / n**0.5
        cells = ", ".join(
            f"{m:.3f}±{s:.3f}" for m, s in zip(mean.tolist(), sem.tolist(), strict=True)
        )
        print(f"{name}: {cells}; flags {result.flags[name]}")  # noqa: T201
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
