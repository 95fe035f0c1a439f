"""``python -m experiments.smollm_graphs``: SmolLM2's attribution graphs, checked."""

import sys
from collections.abc import Iterator, Sequence

from experiments.smollm_graphs.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None,
         prog: str = "python -m experiments.smollm_graphs") -> int:  # fmt: skip
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(outcome, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - an Outcome
    """Each graph's size, scores and check; the pooled correlations."""
    result = outcome.main
    for g in result.graphs:
        yield (f"{g['task']:<9} {g['prompt'][-40:]!r:<44} {g['target']}: {g['n_nodes']} nodes, "
               f"replacement {g['scores']['replacement_pruned']:.2f}, r = {g['r_total']:+.2f} "
               f"(direct {g['r_direct']:+.2f})")  # fmt: skip
    for task, p in result.pooled.items():
        yield (f"{task}: r = {p['r_total']:.3f} [{p['low']:.3f}, {p['high']:.3f}] over "
               f"{p['n']} features (direct effect only {p['r_direct']:.3f}; attention frozen "
               f"{p['r_frozen']:.3f}; in the replacement {p['r_replacement']:.3f}; layers 0-9 "
               f"{p['r_early']:.3f}, 20-29 {p['r_late']:.3f}; at half scale {p['r_half']:.3f} / "
               f"{p['r_half_replacement']:.3f})")  # fmt: skip
    yield f"peak memory {result.peak_rss_gb:.2f} GB; report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
