"""``python -m experiments.smollm_tuned_lens``: fit the lenses and print the KL table."""

import sys
from collections.abc import Iterator, Sequence

from experiments.smollm_tuned_lens.config import JOB, Config
from mechscope.cli import execute


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_tuned_lens"
) -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - the experiment's Result
    """Print mean KL(final || lens) by boundary, per kind of text and lens."""
    for domain in result.domains:
        comparison = result.comparison(domain)
        yield f"{domain}: mean KL(final || lens), nats, ± s.e. over windows"
        yield (f"{'boundary':<16}" + "".join(f"{n:>24}" for n in comparison.lenses))
        means = [comparison.mean(n) for n in comparison.lenses]
        ses = [comparison.sem(n) for n in comparison.lenses]
        for b, label in enumerate(comparison.labels):
            cells = "".join(
                f"{m[b]:>16.3f} ± {s[b]:<5.3f}" for m, s in zip(means, ses, strict=True)
            )
            yield f"{label:<16}{cells}"
    yield f"seconds: {result.seconds}"
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
