"""``python -m experiments.induction_circuits``: read the circuit and print the claims."""

import sys
from collections.abc import Iterator, Sequence

from experiments.induction_circuits.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.induction_circuits"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print the claims table."""
    for row in result.claims:
        yield f"{row['claim']}: {row['measured']} [{row['verdict']}]"
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
