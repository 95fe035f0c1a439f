"""``python -m experiments.rank_collapse``: res(X) by layer, with and without skips."""

import sys
from collections.abc import Iterator, Sequence

from experiments.rank_collapse.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.rank_collapse"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print res(X) by layer for both variants and each trained model."""
    yield f"{'boundary':>8} {'with skips':>18} {'without skips':>18}"
    for b in range(result.with_skips.shape[0]):
        w, wo = result.with_skips[b], result.without_skips[b]
        yield (
            f"{b:>8} {float(w.mean()):>10.3g} ± {float(w.std() / len(w) ** 0.5):<6.2g}"
            f"{float(wo.mean()):>10.3g} ± {float(wo.std() / len(wo) ** 0.5):<6.2g}"
        )
    for name, values in result.bidirectional.items():
        yield (f"bidirectional, {name}: " + " ".join(f"{float(v):.3g}" for v in values.mean(-1)))
    for name, values in result.after_training.items():
        yield (f"{name}: " + " ".join(f"{float(v):.3g}" for v in values.mean(-1)))
    for name, values in result.trained.items():
        yield (f"{name}: " + " ".join(f"{v:.3f}" for v in values))
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
