"""What every experiment's ``__main__`` shares: parse the Config, run, print, exit codes."""

import contextlib
import importlib
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def run_experiment(
    config_cls: type,
    module: str,
    report: Callable[[Any, Any], None],
    argv: Sequence[str] | None,
    prog: str,
) -> int:
    """Parse ``argv`` into ``config_cls``, call ``module.run``, print with ``report``.

    User errors (`MechscopeError`, or a Config's own validation) print one line and exit 2;
    Ctrl-C prints one line and exits 130.
    """
    import tyro

    from mechscope.cli import one_line
    from mechscope.cli.common import writable_directory
    from mechscope.core.errors import Interrupted, MechscopeError

    try:
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stderr(buffer):
                cfg = tyro.cli(config_cls, args=None if argv is None else list(argv), prog=prog)
        except ValueError as error:  # the Config's own validation
            raise MechscopeError(str(error)) from None
        except SystemExit as stop:  # tyro printed a boxed message: one line instead
            if stop.code in (0, None):
                print(buffer.getvalue(), end="", file=sys.stderr)  # noqa: T201
                return 0
            raise MechscopeError(one_line(buffer.getvalue())) from None
        if hasattr(cfg, "out"):
            writable_directory(Path(cfg.out))  # before any work, not after it
        try:
            result = importlib.import_module(module).run(cfg)
        except ValueError as error:  # a recipe or setting the Config builds, refused
            raise MechscopeError(str(error)) from None
    except KeyboardInterrupt:
        print(  # noqa: T201
            f"{prog}: interrupted; what was already written is kept (finished training runs "
            "are read back, checkpointed ones resume). Run the same command again to go on.",
            file=sys.stderr,
        )
        return 130
    except MechscopeError as error:
        interrupted = isinstance(error, Interrupted)
        print(f"{prog}: {'' if interrupted else 'error: '}{error}", file=sys.stderr)  # noqa: T201
        return 130 if interrupted else 2
    report(result, cfg)
    return 0
