"""``python -m experiments.smollm_atlas``: run the head atlas and print its key tables."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.smollm_atlas.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_atlas"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.smollm_atlas.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the key numbers."""
    say = print  # noqa: T202
    for row in result.thirds:
        say(
            "  ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
            )
        )
    for row in result.syntax.table(min_count=50)[:10]:
        say(
            f"  {row['relation']:<12} {row['head']:<6} {row['direction']:<16} "
            f"{row['accuracy']:.3f} vs offset {row['baseline_offset']:+d} {row['baseline']:.3f}"
        )
    for row in result.check:
        say(f"  ablate {row['head']} ({row['group']}, induction {row['induction']:.2f}): "
            f"{row['change']:+.3f}")  # fmt: skip
    for step, seconds in result.seconds.items():
        say(f"  {step}: {seconds:.1f} s")
    say(f"report: {cfg.out / 'report.html'}")


if __name__ == "__main__":
    sys.exit(main())
