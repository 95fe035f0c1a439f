"""The one runner of every Job (`mechscope.core.jobs`): commands and experiments alike.

`execute` parses the command line into the job's Config, owns ``--out``
(`mechscope.cli.common.output_directory`: refused if it holds results unless
``--overwrite``; old results set aside and put back on failure, Ctrl-C or SIGTERM; nothing
partial left), runs the job, saves its results, writes its report and prints its summary.
Every user error is one line on stderr and exit 2; Ctrl-C exits 130 and SIGTERM 143, each
with one line saying what was kept.
"""

import contextlib
import io
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from mechscope.core.errors import CheckFailed, Interrupted, MechscopeError
from mechscope.core.jobs import Job, results_by_directory

EXIT_FAILED_CHECK = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


KEPT_NOTE = (
    "no new results were saved and --out is as it was (training runs in --out/runs are kept: "
    "run the same command again to resume them)."
)


class Terminated(BaseException):
    """SIGTERM (``timeout``, SLURM, ``docker stop``), raised where the job is, like Ctrl-C."""


def one_line(message: str) -> str:
    """A parser's boxed, multi-line error as one line.

    Box drawing, colours, rules of dashes and the help pointer are dropped.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", message)  # ANSI colours
    text = re.sub(r"[\u2500-\u257f]", " ", text)  # box-drawing characters
    text = re.sub(r"-{3,}", " ", text)  # rules drawn in dashes without a terminal
    text = text.split("For full helptext")[0]
    text = re.sub(r"Error parsing [\w.-]*: ", "", text.replace("Value error", ""))
    return " ".join(text.split()).strip()


def parse(config: type, argv: Sequence[str], prog: str) -> Any:  # noqa: ANN401 - a Config
    """``argv`` as a ``config`` instance; ``--help`` prints and raises SystemExit(0).

    Raises:
        MechscopeError: a bad command line or a value the Config refuses, as one line.
    """
    import tyro

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            return tyro.cli(
                config,
                args=list(argv),
                prog=prog,
                config=(tyro.conf.EnumChoicesFromValues,),
            )
    except ValueError as error:  # the Config's own validation
        raise MechscopeError(str(error)) from None
    except SystemExit as stop:
        if stop.code in (0, None):
            print(buffer.getvalue(), end="", file=sys.stderr)  # noqa: T201
            raise
        raise MechscopeError(one_line(buffer.getvalue())) from None


def execute(job: Job, argv: Sequence[str], prog: str, label: str = "") -> int:
    """Run ``job`` on the command line ``argv``; return the exit code.

    ``prog`` names the command in its usage; ``label`` (default: ``prog``) starts each line
    printed on stderr.
    """
    label = label or prog
    try:
        with _sigterm_raises():
            try:
                cfg = parse(job.config_class(), argv, prog)
            except SystemExit:
                return 0
            from mechscope.executors import keep_workers

            with keep_workers():  # a job's sharded steps share their workers
                perform(job, cfg)
            return 0
    except Terminated:
        _err(f"{label}: terminated (SIGTERM); {KEPT_NOTE}")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _err(f"{label}: interrupted; {KEPT_NOTE}")
        return EXIT_INTERRUPTED
    except CheckFailed as failed:  # a verdict, not a user error: stdout, exit 1
        print(failed)  # noqa: T201
        return EXIT_FAILED_CHECK
    except MechscopeError as error:
        if isinstance(error, Interrupted):  # it says what was saved and how to go on
            _err(f"{label}: {error}")
            return EXIT_INTERRUPTED
        _err(f"{label}: error: {error}")
        return EXIT_USER_ERROR
    except (MemoryError, RuntimeError) as error:  # torch.OutOfMemoryError is a RuntimeError
        if not _out_of_memory(error):
            raise
        _err(
            f"{label}: error: out of memory; nothing new was saved and --out is as it was "
            "before. Lower --batch-size (and --memory-budget-mb where the job has it)."
        )
        return EXIT_USER_ERROR


def perform(job: Job, cfg: Any, *, show: bool = True) -> Any:  # noqa: ANN401 - the job's own
    """Run ``job`` on a parsed ``cfg`` under the output policy; return what ``run`` returned.

    The runner saves the results, writes the report and prints the summary (``show``).

    The output policy applies to a Config with ``out`` and ``overwrite`` (results
    directories); a Config with ``out`` alone (a training run, an optional JSON file) gets its
    results saved there without it.

    Raises:
        MechscopeError: a user error (the caller prints it as one line).
    """
    from mechscope.cli.common import output_directory

    out = getattr(cfg, "out", None)
    policy = (
        output_directory(Path(out), bool(cfg.overwrite))
        if out is not None and hasattr(cfg, "overwrite")
        else contextlib.nullcontext()
    )
    with policy:
        try:
            results = job.do(cfg)
        except ValueError as error:  # a recipe or setting the Config builds, refused
            raise MechscopeError(str(error)) from None
        if out is not None:
            for sub, result in results_by_directory(results).items():
                result.save(Path(out) / sub)
            report = job.page(results, cfg)
            if report is not None:
                report.save(Path(out) / "report.html")
    if show:
        for line in job.lines(results, cfg):
            print(line)  # noqa: T201
    return results


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises `Terminated` in the main thread while the job runs."""

    def handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _err(text: str) -> None:
    print(text, file=sys.stderr)  # noqa: T201


def _out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure (CPU or GPU)."""
    text = str(error)
    return isinstance(error, MemoryError) or any(
        marker in text
        for marker in ("can't allocate memory", "CUDA out of memory", "out of memory")
    )
