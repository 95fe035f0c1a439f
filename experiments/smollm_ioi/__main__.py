"""``python -m experiments.smollm_ioi``: run the IOI reproduction and print its key numbers."""

import sys
from collections.abc import Iterator, Sequence

from experiments.smollm_ioi.config import JOB, Config
from mechscope.cli import execute


def main(argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_ioi") -> int:
    """Run the experiment's Job on ``argv``: user errors exit 2 with one line."""
    return execute(JOB, sys.argv[1:] if argv is None else argv, prog)


def summary(outcome, cfg: Config) -> Iterator[str]:  # noqa: ANN001 - an Outcome
    """Print the key numbers."""
    result = outcome.main
    for row in result.behaviour:
        yield (
            f"{row['corruption']}: logit diff IO - S clean {row['clean']:.2f} ± "
            f"{row['clean_se']:.2f}, corrupted {row['corrupted']:.2f} ± {row['corrupted_se']:.2f}"
            f"; IO wins {row['io_wins']:.0%} of {row['n']}"
        )
    yield f"top heads (output at the final position): {', '.join(map(str, result.top_heads))}"
    for row in result.attention:
        yield (
            f"  {row['head']} attends IO {row['io']:.2f}, S1 {row['s1']:.2f}, S2 {row['s2']:.2f}"
        )
    for row in result.template_rows:
        yield (f"  {row['head']} over {row['templates']} templates: {row['mean']:.3f} ± "
               f"{row['stderr']:.3f}, among the top in {row['top_in']}")  # fmt: skip
    for row in result.paths:
        yield (f"  path {row['sender']} -> {row['input']}: {row['normalised']:.3f} (estimated "
               f"{row.get('estimate', float('nan')):.3f})")  # fmt: skip
    yield ("attribution vs exact patching: " + ", ".join(
        f"{k} r = {v:.2f}" for k, v in result.correlations.items()))  # fmt: skip
    for step, seconds in result.seconds.items():
        yield f"  {step}: {seconds:.1f} s"
    yield f"report: {cfg.out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
