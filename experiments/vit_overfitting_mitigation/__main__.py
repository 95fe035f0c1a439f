"""``python -m experiments.vit_overfitting_mitigation``: ViT over-fitting remedies."""

import sys
from collections.abc import Iterator, Sequence

from experiments.vit_overfitting_mitigation.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None,
    prog: str = "python -m experiments.vit_overfitting_mitigation",
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print the verdict table of the report."""
    for row in result.verdicts():
        yield "; ".join(f"{k}: {v}" for k, v in row.items())
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
