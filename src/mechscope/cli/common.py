"""What every command shares: the model argument, the output directory, the device."""

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from mechscope.core.errors import MechscopeError
from mechscope.core.processes import process_alive

MODEL_HELP = (
    "model spec: 'induction-2l' / 'induction-1l' (shipped), 'minilm' (bundled "
    "all-MiniLM-L6-v2), a mechscope checkpoint directory, a local Hugging Face model directory "
    "(GPT-2, GPT-NeoX/Pythia, Llama, BERT), or a TransformerLens name such as 'gpt2-small' "
    "(needs network access or the HF cache)"
)

ModelArg = Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="MODEL", help=MODEL_HELP)]
"""The model, given first on the command line."""

OutArg = Annotated[Path, tyro.conf.arg(metavar="DIR")]
"""An output directory."""

DeviceArg = Annotated[str | None, tyro.conf.arg(metavar="DEVICE")]
"""A torch device; None: CUDA when available, else CPU."""

BackendArg = Annotated[Literal["hooked", "bridge"], tyro.conf.arg(metavar="{hooked,bridge}")]
"""How the model runs (`mechscope.models.Backend`; a name here, so --help imports no torch)."""

DeviceMapArg = Annotated[str | None, tyro.conf.arg(metavar="MAP")]
"""Hugging Face's device_map: a strategy name or a JSON {module: device} object."""


ExecutorArg = Annotated[Literal["local", "ray"], tyro.conf.arg(metavar="{local,ray}")]
"""Where a corpus job's shards run (`mechscope.executors.ExecutorKind`)."""


@dataclass(frozen=True, kw_only=True)
class Loading:
    """How a command loads its model (`mechscope.models.load_model`)."""

    device: DeviceArg = None
    """Torch device (default: CUDA when available, else CPU)."""
    backend: BackendArg = "hooked"
    """hooked: TransformerLens's HookedTransformer; bridge: the Hugging Face model itself through
    TransformerLens's TransformerBridge (a Hugging Face decoder directory, hub name or
    smollm2-135m)."""
    device_map: DeviceMapArg = None
    """With --backend bridge: split the model over devices (Hugging Face's device_map): auto,
    balanced, sequential, or a JSON {module: device} map; --device is then ignored."""


LoadingArg = Annotated[Loading, tyro.conf.OmitArgPrefixes]
"""A command's loading options, on the command line without a prefix (--device...)."""


@dataclass(frozen=True, kw_only=True)
class Sharding:
    """Where a command's corpus runs (`mechscope.executors`)."""

    workers: int = 1
    """Worker processes (or Ray actors), each loading the model once and taking shards of
    the corpus; 1: in this process."""
    executor: ExecutorArg = "local"
    """local: worker processes on this machine; ray: a Ray cluster (--address, or a local
    one of --workers CPUs)."""
    address: str | None = None
    """With --executor ray: the cluster's address (auto, ray://HOST:PORT)."""


ShardingArg = Annotated[Sharding, tyro.conf.OmitArgPrefixes]
"""A command's sharding options, on the command line without a prefix (--workers...)."""


def sharding(
    model: str, loading: Loading, options: Sharding, *, in_process: bool = False
) -> "tuple[Any, Any] | None":
    """The `ModelRecipe` and `Executor` of ``--workers/--executor/--address``.

    None when the job runs in this process (one local worker), unless ``in_process`` (a job
    that shards even there, e.g. to summarise shard by shard).

    Raises:
        MechscopeError: fewer than one worker, or an address without --executor ray.
    """
    from mechscope.executors import Executor, ExecutorKind, ModelRecipe

    executor = Executor(ExecutorKind(options.executor), options.workers, options.address)
    if executor.in_process and not in_process:
        return None
    recipe = ModelRecipe(model, loading.device or "cpu", loading.backend,
                         parse_device_map(loading.device_map))  # fmt: skip
    return recipe, executor


def parse_device_map(text: str | None) -> str | dict[str, str | int] | None:
    """``--device-map``: a strategy name as it is, a JSON object as a dict.

    Raises:
        MechscopeError: text that is neither (the JSON error shown).
    """
    if text is None or not text.lstrip().startswith("{"):
        return text
    import json

    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise MechscopeError(
            f"--device-map {text!r} is not a JSON object ({error.msg}); write it as "
            '\'{"model.layers.0": "cuda:0", ...}\' or give auto, balanced or sequential.'
        ) from None
    return parsed


def say(text: str) -> None:
    """Print a line of a command's output (the only place commands print)."""
    print(text)  # noqa: T201


KEPT = ("runs",)
"""Subdirectories of ``--out`` that are caches, not results: experiments keep the training runs
they read back (or resume) there. They do not count as results already in ``--out``, survive
``--overwrite``, and keep the progress of a failed or interrupted job."""


@contextmanager
def output_directory(out: Path, overwrite: bool) -> Iterator[None]:
    """Check ``out`` before any work; on failure leave it as it was (its caches aside).

    A file where the directory should be, an unwritable place, or a directory that already
    holds results (unless ``overwrite``) is refused at once. With ``overwrite`` the old
    results move aside to ``OUT.previous`` and come back if the job fails or is interrupted;
    they are deleted once the new ones are complete. A failed job's partial results are
    removed. The caches in `KEPT` stay in ``out`` throughout, with whatever the job added.

    A symbolic link is followed once (its target is what is set aside and written), and a
    lock beside ``out`` (``OUT.lock``, holding the process id) refuses a second run writing
    the same directory while this one runs.

    Raises:
        MechscopeError: ``out`` is a file, cannot be written, holds results already, or
            another run is writing it.
    """
    out = Path(os.path.realpath(out)) if out.is_symlink() else out
    with _locked(out), _set_aside(out, overwrite):
        yield


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``OUT.lock`` (this process's id) while the job runs; refuse a live holder's."""
    lock = out.with_name(out.name + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MechscopeError(
            f"cannot write to --out {out}: {error.strerror or error}; choose a directory you "
            "can write to."
        ) from error
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None:
                raise MechscopeError(
                    f"another mechscope run (process {holder}) is writing --out {out}; wait for "
                    "it to finish or choose another --out."
                ) from None
            lock.unlink(missing_ok=True)  # a stale lock: its process is gone
            continue
        except OSError as error:
            raise MechscopeError(
                f"cannot write beside --out {out} ({lock.name}): {error.strerror or error}; "
                "choose a directory you can write to."
            ) from error
        with os.fdopen(handle, "w") as file:
            file.write(str(os.getpid()))
        break
    else:
        raise MechscopeError(f"cannot take the lock {lock}; remove it if no run is writing --out.")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _lock_holder(lock: Path) -> int | None:
    """The live process holding ``lock``, or None (stale or unreadable)."""
    try:
        pid = int(lock.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


@contextmanager
def _set_aside(out: Path, overwrite: bool) -> Iterator[None]:
    """The body of `output_directory` once ``out`` is resolved and locked."""
    held = out.is_dir() and any(p.name not in KEPT for p in out.iterdir())
    if held and not overwrite:
        raise MechscopeError(
            f"--out {out} already holds results; pass --overwrite to replace them (the old "
            "ones stay until the new ones are complete), or choose another --out."
        )
    backup = out.with_name(out.name + ".previous") if held else None
    existed = out.exists()
    try:
        if backup is not None:
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(out, backup)
            _move_caches(backup, out)
        writable_directory(out)
    except (OSError, MechscopeError) as error:
        _restore(out, backup, existed)
        if isinstance(error, MechscopeError):
            raise
        raise MechscopeError(f"cannot set --out {out} aside: {error.strerror or error}.") from error
    try:
        yield
    except BaseException:
        _restore(out, backup, existed)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _move_caches(source: Path, target: Path) -> None:
    """Move the `KEPT` caches of ``source`` into ``target`` (created)."""
    for name in KEPT:
        if (source / name).exists():
            target.mkdir(parents=True, exist_ok=True)
            if (target / name).exists():
                shutil.rmtree(target / name)
            os.replace(source / name, target / name)


def writable_directory(out: Path) -> None:
    """Make ``out`` a directory (if need be) and check that it can be written.

    Raises:
        MechscopeError: ``out`` is a file or cannot be created or written.
    """
    if out.exists() and not out.is_dir():
        raise MechscopeError(f"--out {out} is a file; give a directory.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".mechscope-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise MechscopeError(
            f"cannot write to --out {out}: {error.strerror or error}; choose a directory you "
            "can write to."
        ) from error


def _restore(out: Path, backup: Path | None, existed: bool) -> None:
    """Undo `output_directory`: drop partial results, put the old ones back, keep caches."""
    if backup is not None and backup.exists():
        _move_caches(out, backup)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(backup, out)
    elif out.is_dir():
        for path in out.iterdir():
            if path.name in KEPT:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if not existed and not any(out.iterdir()):
            out.rmdir()


def with_prompts(cfg: Any, prompts: Sequence[str]) -> dict[str, Any]:  # noqa: ANN401
    """The command's config plus the prompts it ran on, for a result's provenance.

    Prompts read from a file or built in are recorded themselves, not only the file name.
    """
    from mechscope.core.results import config_json

    return {**config_json(cfg), "prompts": list(prompts)}


def load_text_model(spec: str, loading: Loading, command: str) -> Any:  # noqa: ANN401 - a Model
    """`load_model` for the commands that read text; a ViT is refused with where to go.

    Raises:
        MechscopeError: the spec loads a vision transformer, or a bad ``--device-map``.
    """
    from mechscope.models import adapt, load_model

    model = load_model(spec, device=loading.device, backend=loading.backend,
                       device_map=parse_device_map(loading.device_map))  # fmt: skip
    if adapt(model).takes_images:
        raise MechscopeError(
            f"`mechscope {command}` reads text and {spec} is a vision transformer; run "
            f"`mechscope reproduce vit-attention --models {spec}` or use mechscope.vision."
        )
    return model
