"""``python -m experiments.gradient_health``: per-block gradient norms, post-LN vs pre-LN."""

import sys
from collections.abc import Iterator, Sequence

from experiments.gradient_health.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.gradient_health"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print the per-block norms of both kinds of model."""
    for name, norms in result.norms.items():
        mean, n = norms.mean(-1), norms.shape[-1]
        sem = norms.std(-1) / n**0.5
        cells = ", ".join(
            f"{m:.3f}±{s:.3f}" for m, s in zip(mean.tolist(), sem.tolist(), strict=True)
        )
        yield f"{name}: {cells}; flags {result.flags[name]}"
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
