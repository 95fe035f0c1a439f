"""``python -m experiments.smollm_facts``: run the facts logit lens and print its key table."""

import sys
from collections.abc import Sequence

from experiments.smollm_facts.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_facts"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    import tyro

    from mechscope.core.errors import MechscopeError

    try:
        cfg = tyro.cli(Config, args=None if argv is None else list(argv), prog=prog)
        from experiments.smollm_facts.analysis import run

        result = run(cfg)
    except MechscopeError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)  # noqa: T201
        return 2
    kept = int(result.kept.sum())
    print(f"{kept} of {len(result.facts)} single-token facts answered at top-1")  # noqa: T201
    print(f"{'boundary':<16} {'median rank':>11} {'p(answer)':>10} {'KL':>7}")  # noqa: T201
    for row in result.summary():
        print(  # noqa: T201
            f"{row['boundary']:<16} {row['median_rank']:>11.0f} {row['prob']:>10.3f} "
            f"{row['kl']:>7.3f}"
        )
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
