"""``python -m experiments.attention_collapse_mitigation``: attention remedies, collapsing lr."""

import sys
from collections.abc import Iterator, Sequence

from experiments.attention_collapse_mitigation.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None,
    prog: str = "python -m experiments.attention_collapse_mitigation",
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print the verdict table of the report."""
    for row in result.verdicts(cfg.collapse_nats):
        yield "; ".join(f"{k}: {v}" for k, v in row.items())
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
