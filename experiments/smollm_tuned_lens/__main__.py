"""``python -m experiments.smollm_tuned_lens``: fit the lenses and print the KL table."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.smollm_tuned_lens.config import Config


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_tuned_lens"
) -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.smollm_tuned_lens.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print mean KL(final || lens) by boundary, per kind of text and lens."""
    for domain in result.domains:
        comparison = result.comparison(domain)
        print(f"{domain}: mean KL(final || lens), nats, ± s.e. over windows")  # noqa: T201
        print(f"{'boundary':<16}" + "".join(f"{n:>24}" for n in comparison.lenses))  # noqa: T201
        means = [comparison.mean(n) for n in comparison.lenses]
        ses = [comparison.sem(n) for n in comparison.lenses]
        for b, label in enumerate(comparison.labels):
            cells = "".join(
                f"{m[b]:>16.3f} ± {s[b]:<5.3f}" for m, s in zip(means, ses, strict=True)
            )
            print(f"{label:<16}{cells}")  # noqa: T201
    print(f"seconds: {result.seconds}")  # noqa: T201
    print(f"report: {cfg.out / 'report.html'}")  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
