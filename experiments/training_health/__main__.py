"""``python -m experiments.training_health``: gradient health and entropy collapse over training."""

import sys
from collections.abc import Iterator, Sequence

from experiments.training_health.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.training_health"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print the summary table of the report."""
    for row in result.summary(cfg.collapse_nats, cfg.divergence_nats):
        yield ("; ".join(f"{k}: {v}" for k, v in row.items()))
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
