"""The ``mechscope`` command: one subcommand per job, each a Config dataclass.

Every command module defines a frozen ``Config`` (per-field docstrings become the help) and
``run(cfg) -> int``; tyro turns the Configs into subcommands, so the CLI and the Python API
cannot drift apart. Heavy imports (torch, TransformerLens) happen inside ``run``, so every
``--help`` answers without them. User errors print one line and exit 2; a failed check
exits 1.
"""

import contextlib
import io
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Union

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

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
    "diagnose",
    "probe",
    "similarity",
    "reproduce",
)
"""Command modules of `mechscope.cli`, in the order ``--help`` lists them."""


def _modules() -> dict[str, ModuleType]:
    import importlib

    return {
        name.replace("_", "-"): importlib.import_module(f"mechscope.cli.{name}")
        for name in COMMANDS
    }


def _parse(argv: Sequence[str], modules: dict[str, ModuleType]) -> Any:  # noqa: ANN401
    import tyro

    choices = tuple(
        Annotated[
            module.Config,
            tyro.conf.subcommand(name=name, prefix_name=False),
        ]
        for name, module in modules.items()
    )
    return tyro.cli(  # pyright: ignore[reportCallIssue]
        Union[choices],  # noqa: UP007 # pyright: ignore[reportArgumentType] - built from a tuple
        prog="mechscope",
        description="Mechanistic interpretability on TransformerLens models, offline-friendly. "
        "Run 'mechscope COMMAND --help' for each command's options.",
        args=list(argv),
        config=(tyro.conf.EnumChoicesFromValues,),
    )


def one_line(message: str) -> str:
    """A parser's boxed, multi-line error as one line (box drawing and help pointer dropped)."""
    text = re.sub(r"[\u2500-\u257f]", " ", message)  # box-drawing characters
    text = text.split("For full helptext")[0]
    text = re.sub(r"Error parsing [\w.-]*: ", "", text.replace("Value error", ""))
    return " ".join(text.split()).strip()


def parse_or_exit(argv: Sequence[str], modules: dict[str, ModuleType]) -> Any:  # noqa: ANN401
    """`_parse`, with a bad command line reported as one line on stderr (exit 2)."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            return _parse(argv, modules)
    except SystemExit as stop:
        if stop.code not in (0, None):
            print(f"mechscope: error: {one_line(buffer.getvalue())}", file=sys.stderr)  # noqa: T201
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run the command, return its exit code."""
    from mechscope.core.errors import Interrupted, MechscopeError

    args = list(sys.argv[1:] if argv is None else argv)
    modules = _modules()
    try:
        if args[:1] == ["reproduce"] and args[1:2] not in (["--help"], ["-h"], []):
            return modules["reproduce"].main(args[1:])
        try:
            cfg = parse_or_exit(args, modules)
        except SystemExit as stop:
            return 0 if stop.code in (0, None) else EXIT_USER_ERROR
        run: Callable[[Any], int] = next(
            m.run for m in modules.values() if isinstance(cfg, m.Config)
        )
        if hasattr(cfg, "overwrite"):  # the commands that write a results directory
            from mechscope.cli.common import output_directory

            with output_directory(Path(cfg.out), cfg.overwrite):
                return run(cfg)
        return run(cfg)
    except MechscopeError as error:
        if isinstance(error, Interrupted):  # it says what was saved and how to go on
            print(f"mechscope: {error}", file=sys.stderr)  # noqa: T201
            return EXIT_INTERRUPTED
        print(f"mechscope: error: {error}", file=sys.stderr)  # noqa: T201
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(  # noqa: T201
            "mechscope: interrupted; nothing new was saved and --out is as it was before.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as error:  # torch.OutOfMemoryError is a RuntimeError
        if not _out_of_memory(error):
            raise
        print(  # noqa: T201
            "mechscope: error: out of memory; nothing new was saved and --out is as it was "
            "before. Lower --batch-size (and --memory-budget-mb where the command has it).",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR


def _out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure (CPU or GPU)."""
    text = str(error)
    return isinstance(error, MemoryError) or any(
        marker in text
        for marker in ("can't allocate memory", "CUDA out of memory", "out of memory")
    )
