"""``python -m experiments.smollm_dla``: attribute facts and IOI, print the top writers."""

import sys
from collections.abc import Iterator, Sequence

from experiments.smollm_dla.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_dla") -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print the top parts of each task and the copying scores."""
    for task, rows in result.top.items():
        yield f"{task}: largest direct effects (mean ± s.e. over prompts)"
        for row in rows:
            yield f"  {row['part']:<10} {row['mean']:>8.3f} ± {row['sem']:.3f}"
    for row in result.copying:
        yield (
            f"induction head {row['head']}: score {row['induction']:.2f}, "
            f"copying {row['copying']:.2f}"
        )
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
