"""The ``mechscope`` command: one subcommand per Job (`mechscope.core.jobs`).

Every command module defines a frozen ``Config`` (per-field docstrings become the help),
``run(cfg)`` returning its results, ``summary(results, cfg)`` (the lines printed) and
``report(results, cfg)`` (the HTML page, or None); one runner (`mechscope.cli.runner`) executes
them all, as it executes the experiments behind ``mechscope reproduce``. Heavy imports (torch,
TransformerLens) happen inside ``run``, so every ``--help`` answers without them. User errors
print one line and exit 2; a failed check exits 1.
"""

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mechscope.core.jobs import Job, job_table
from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.cli.runner import execute, perform

__all__ = ["COMMANDS", "JOBS", "execute", "main", "perform"]

COMMANDS = (
    "info",
    "check_model",
    "demo",
    "train",
    "train_vit",
    "lens",
    "tuned_lens",
    "heads",
    "patch",
    "ablate",
    "attribute",
    "circuits",
    "circuit_discovery",
    "graph",
    "diagnose",
    "probe",
    "similarity",
    "sae_train",
    "features",
    "reproduce",
)
"""Command modules of `mechscope.cli`, in the order ``--help`` lists them."""


def _job(module: str) -> Job:
    path = f"mechscope.cli.{module}"
    return Job(
        name=module.replace("_", "-"),
        config=f"{path}:Config",
        run=f"{path}:run",
        summary=f"{path}:summary",
        report=f"{path}:report",
    )


JOBS = {job.name: job for job in map(_job, COMMANDS)}
"""Every command's Job, by its name on the command line."""


def usage() -> str:
    """The top-level help: every command with what it does."""
    lines = [
        "usage: mechscope [-h] COMMAND [OPTIONS]",
        "",
        "Mechanistic interpretability on TransformerLens models, offline-friendly. Run "
        "'mechscope COMMAND --help' for each command's options.",
        "",
        "commands:",
    ]
    return "\n".join([*lines, *job_table(JOBS)])


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run the command, return its exit code."""
    from mechscope.cli.runner import EXIT_USER_ERROR, execute

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())  # noqa: T201
        return 0 if args else EXIT_USER_ERROR
    name = args[0]
    if name not in JOBS and f"{name}-{(args[1:2] or [''])[0]}" in JOBS:
        name = f"{name}-{args[1]}"  # a two-word command: `mechscope sae train`
        args = [name, *args[2:]]
    if name not in JOBS:
        print(  # noqa: T201
            f"mechscope: error: unknown command {name!r}; choose one of: {', '.join(JOBS)}.",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    if name == "reproduce":
        from mechscope.cli import reproduce

        if args[1:2] in (["--help"], ["-h"], []):
            print(reproduce.usage())  # noqa: T201
            return 0 if args[1:] else EXIT_USER_ERROR
        return reproduce.reproduce(args[1:])
    return execute(JOBS[name], args[1:], prog=f"mechscope {name}", label="mechscope")


__getattr__ = lazy_exports(
    __name__, {"execute": "mechscope.cli.runner", "perform": "mechscope.cli.runner"}
)
