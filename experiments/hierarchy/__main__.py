"""``python -m experiments.hierarchy``: every claim about depth, measured, with verdicts."""

import sys
from collections.abc import Iterator, Sequence

from experiments.hierarchy.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None, prog: str = "python -m experiments.hierarchy") -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(outcome, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - an Outcome
    """Each profile's peak, then the verdicts."""
    result = outcome.main
    for r in result.profiles:
        expected = (f", expected {r['expected']:.2f} [{r['expected_low']:.2f}, "
                    f"{r['expected_high']:.2f}]" if "expected" in r else "")  # fmt: skip
        yield (
            f"{r['model']:<8} {r['what']:<48} [{r['source']}] peak {r['peak']:.2f} (tied "
            f"{r['tied_low']:.2f}-{r['tied_high']:.2f}) = {r['peak_value']:.3f}{expected}"
        )
    for v in result.verdicts:
        yield f"claim {v['claim']} ({v['model']}): {v['verdict']}: {v['evidence']}"
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
