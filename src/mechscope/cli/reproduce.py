"""``mechscope reproduce NAME ...``: run an experiment's Job from a mechscope checkout.

Reproductions live in the repository's top-level ``experiments/`` (thin clients of the
library, not part of the installed package). Each experiment declares its Job
(``experiments/NAME/config.py``: ``JOB``); this command lists and runs them from there, so the
list cannot drift from the experiments themselves.
"""

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from mechscope.core.errors import MechscopeError
from mechscope.core.jobs import Job, experiment_jobs, job_table


@dataclass(frozen=True, kw_only=True)
class Config:
    """Reproduce a published finding end to end, from a mechscope checkout.

    Same as 'python -m experiments.NAME ...' from the repository root; run 'mechscope
    reproduce NAME --help' for the experiment's own options. Example: mechscope reproduce
    induction --out results/induction
    """

    experiment: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="NAME")]
    """The reproduction to run (listed by 'mechscope reproduce --help')."""


def run(cfg: Config) -> None:
    """Not reached: `mechscope.cli.main` hands ``reproduce NAME ...`` to `reproduce`.

    Raises:
        MechscopeError: always, naming the experiments.
    """
    raise MechscopeError(_unknown(cfg.experiment))


def summary(results: None, cfg: Config) -> list[str]:  # noqa: ARG001 - the Job contract
    """Nothing: the experiment prints its own summary."""
    return []


def report(results: None, cfg: Config) -> None:  # noqa: ARG001 - the Job contract
    """None: the experiment writes its own report."""


def experiments_root() -> Path:
    """The checkout holding ``experiments/``.

    The current directory (or a parent), else the repository an editable install points at.

    Raises:
        MechscopeError: no checkout found.
    """
    here = Path.cwd().resolve()
    candidates = [here, *here.parents, Path(__file__).resolve().parents[3]]
    for root in candidates:
        if (root / "experiments" / "__init__.py").exists():
            return root
    raise MechscopeError(
        "reproductions live in a mechscope checkout's experiments/ folder; run this from the "
        "repository (or use python -m experiments.NAME there)."
    )


def jobs() -> dict[str, Job]:
    """Every experiment's Job, found in the checkout.

    Raises:
        MechscopeError: no checkout found.
    """
    root = str(experiments_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    return experiment_jobs()


def usage() -> str:
    """``mechscope reproduce --help``: every experiment with what it reproduces."""
    lines = [
        "usage: mechscope reproduce [-h] NAME [OPTIONS]",
        "",
        "Reproduce a published finding end to end, from a mechscope checkout. Same as "
        "'python -m experiments.NAME ...' (NAME with underscores); run 'mechscope reproduce "
        "NAME --help' for its options. Example: mechscope reproduce induction --out "
        "results/induction",
        "",
        "experiments:",
    ]
    return "\n".join([*lines, *job_table(jobs())])


def _unknown(name: str) -> str:
    return f"unknown reproduction {name!r}; choose one of: {', '.join(jobs())}."


def reproduce(argv: Sequence[str]) -> int:
    """Run experiment ``argv[0]`` with the rest of ``argv`` as its arguments."""
    from mechscope.cli.runner import EXIT_USER_ERROR, execute

    try:
        found = jobs()
        if argv[0] not in found:
            raise MechscopeError(_unknown(argv[0]))
    except MechscopeError as error:
        print(f"mechscope: error: {error}", file=sys.stderr)  # noqa: T201
        return EXIT_USER_ERROR
    return execute(found[argv[0]], argv[1:], prog=f"mechscope reproduce {argv[0]}")
