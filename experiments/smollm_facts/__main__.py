"""``python -m experiments.smollm_facts``: run the facts logit lens and print its key table."""

import sys
from collections.abc import Iterator, Sequence

from experiments.smollm_facts.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_facts"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print the key numbers."""
    kept = int(result.kept.sum())
    yield f"{kept} of {len(result.facts)} single-token facts answered at top-1"
    yield f"{'boundary':<16} {'median rank':>11} {'p(answer)':>10} {'KL':>7}"
    for row in result.summary():
        yield (
            f"{row['boundary']:<16} {row['median_rank']:>11.0f} {row['prob']:>10.3f} "
            f"{row['kl']:>7.3f}"
        )
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
