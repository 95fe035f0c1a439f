"""``python -m experiments.smollm_ioi``: run the IOI reproduction and print its key numbers."""

import sys
from collections.abc import Sequence

from experiments.cli import run_experiment
from experiments.smollm_ioi.config import Config


def main(argv: Sequence[str] | None = None, prog: str = "python -m experiments.smollm_ioi") -> int:
    """Parse ``argv`` into a `Config`, run, print; user errors exit 2 with one line."""
    return run_experiment(Config, "experiments.smollm_ioi.analysis", report, argv, prog)


def report(result, cfg: Config) -> None:  # noqa: ANN001 - the experiment's Result
    """Print the key numbers."""
    say = print  # noqa: T202
    for row in result.behaviour:
        say(
            f"{row['corruption']}: logit diff IO - S clean {row['clean']:.2f} ± "
            f"{row['clean_se']:.2f}, corrupted {row['corrupted']:.2f} ± {row['corrupted_se']:.2f}"
            f"; IO wins {row['io_wins']:.0%} of {row['n']}"
        )
    say(f"top heads (output at the final position): {', '.join(map(str, result.top_heads))}")
    for row in result.attention:
        say(f"  {row['head']} attends IO {row['io']:.2f}, S1 {row['s1']:.2f}, S2 {row['s2']:.2f}")
    say("attribution vs exact patching: " + ", ".join(
        f"{k} r = {v:.2f}" for k, v in result.correlations.items()))  # fmt: skip
    for step, seconds in result.seconds.items():
        say(f"  {step}: {seconds:.1f} s")
    say(f"report: {cfg.out / 'report.html'}")


if __name__ == "__main__":
    sys.exit(main())
