"""``python -m experiments.smollm_features``: SmolLM2's features in IOI and facts; steering."""

import sys
from collections.abc import Iterator, Sequence

from experiments.smollm_features.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None,
         prog: str = "python -m experiments.smollm_features") -> int:  # fmt: skip
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(result, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - a SmolFeatures
    """Print each task's strongest feature per layer, then the steering."""
    for row in result.patching:
        top = row["features"][0]
        yield (f"{row['task']:<6} layer {row['layer']:>2}: feature {top['feature']} recovers "
               f"{top['normalised']:+.3f} (estimate {top['estimate_normalised']:+.3f}); "
               f"promotes {', '.join(top['promoted'][:4])}; label {top['label']}")  # fmt: skip
    for row in result.steering:
        yield (f"steer {row['what']}: {row['prompt']!r} -> {row['clean']!r} becomes "
               f"{row['steered']!r}; gained {row['gained'][:3]}")  # fmt: skip
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
