"""``python -m experiments.rank_collapse``: res(X) by layer, with and without skips."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.rank_collapse.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.rank_collapse"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.rank_collapse.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print res(X) by layer for both variants and each trained model."""
    print(f"{'boundary':>8} {'with skips':>18} {'without skips':>18}")  # noqa: T201
    for b in range(result.with_skips.shape[0]):
        w, wo = result.with_skips[b], result.without_skips[b]
        print(
            f"{b:>8} {float(w.mean()):>10.3g} ± {float(w.std() / len(w) ** 0.5):<6.2g}"  # noqa: T201
            f"{float(wo.mean()):>10.3g} ± {float(wo.std() / len(wo) ** 0.5):<6.2g}"
        )
    for name, values in result.after_training.items():
        print(f"{name}: " + " ".join(f"{float(v):.3g}" for v in values.mean(-1)))  # noqa: T201
    for name, values in result.trained.items():
        print(f"{name}: " + " ".join(f"{v:.3f}" for v in values))  # noqa: T201
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
