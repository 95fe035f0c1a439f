"""``python -m experiments.smollm_atlas``: run the head atlas and print its key tables."""

import math
import sys
from collections.abc import Iterator, Sequence

from experiments.smollm_atlas.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_atlas"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(outcome, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - an Outcome
    """Print the key numbers."""
    result = outcome.main
    for row in result.thirds:
        yield (
            "  ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
            )
        )
    for row in result.syntax.table(min_count=50)[:10]:
        yield (
            f"  {row['relation']:<12} {row['head']:<6} {row['direction']:<16} "
            f"{row['accuracy']:.3f} vs offset {row['baseline_offset']:+d} {row['baseline']:.3f}"
        )
    for row in result.check:
        versus = (
            f"; minus its controls {row['minus_controls']:+.3f} ± "
            f"{row['minus_controls_stderr']:.3f}"
            if "minus_controls" in row
            else ""
        )
        stderr = row.get("change_stderr", math.nan)
        yield (f"  ablate {row['head']} ({row['group']}, induction {row['induction']:.2f}): "
               f"{row['change']:+.3f} ± {stderr:.3f}{versus}")  # fmt: skip
    for step, seconds in result.seconds.items():
        yield f"  {step}: {seconds:.1f} s"
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
