"""``python -m experiments.feature_hierarchy``: SAE features by layer and how abstract they are."""

import sys
from collections.abc import Iterator, Sequence

from experiments.feature_hierarchy.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None,
         prog: str = "python -m experiments.feature_hierarchy") -> int:  # fmt: skip
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(outcome, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - an Outcome
    """Print each layer's shares, then the verdicts."""
    result = outcome.main
    for row in result.layers:
        shares = ", ".join(f"{level} {row['shares'][level][0]:.2f}" for level in row["shares"])
        yield (f"{row['model']:<13} layer {row['layer']:>2}: EV {row['explained_variance']:.3f}, "
               f"{row['live']} live of {row['width']} features; {shares}")  # fmt: skip
    yield from result.verdicts
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
