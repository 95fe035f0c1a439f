"""`map_shards`: a job's shards on worker processes or a Ray cluster, each loading the model once.

`fold_shards` merges the results as they come back (in shard order) instead of returning
them all, for merges whose parts are large.

A corpus job (head scores over a treebank, activations for probes and SAEs, patching over
thousands of prompt pairs) is cut into shards (sentences, prompt pairs); each shard goes to a
worker that holds the model (`ModelRecipe` says how to load it) and runs ``task(model,
shard)``, a module-level function (it travels by pickle); the caller merges what comes back
through the Result contract (`mechscope.executors.sharded`).

Executors (`Executor`):

- ``local`` with ``workers=1``: in this process, with the caller's model (no copy, no pickling);
- ``local`` with ``workers=N``: N spawned processes (``concurrent.futures``), each loading the
  model once (its initializer) and using ``cpu_count // N`` torch threads;
- ``ray``: N Ray actors holding the model (``ray.init(address=...)``: a running cluster; none: a
  local one of N CPUs), fed by an ``ActorPool`` so a fast worker takes more shards.

Workers start per `map_shards` call (a pool of processes, or Ray actors) and stop when it
returns, unless the call runs inside ``with keep_workers():``, which keeps each executor's
workers for the whole block (every command's job runs inside one): a job of several sharded
steps (a probe survey collects the model's and its random twin's activations on two splits)
starts its workers once. A worker loads each `ModelRecipe` it is given once and keeps it.

Faults: a worker that dies mid-shard (killed, out of memory) is replaced and its shard rerun,
up to ``retries`` times (a new process pool; Ray's actor restarts and task retries); a shard
whose task raises stops the job with one line naming the shard; Ctrl-C cancels what is queued,
stops the workers (the actors on a cluster) and re-raises. Nothing is merged, so nothing is
written, unless every shard came back.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from tqdm.auto import tqdm

from mechscope.core.errors import MechscopeError

S = TypeVar("S")
R = TypeVar("R")


class ExecutorKind(Enum):
    """Where shards run."""

    LOCAL = "local"
    RAY = "ray"


@dataclass(frozen=True)
class Executor:
    """How a sharded job runs (see the module docstring).

    ``workers``: processes or actors; ``address``: a Ray cluster (``auto``, ``ray://host:port``;
    None: start a local one); ``retries``: reruns of a shard whose worker died.
    """

    kind: ExecutorKind = ExecutorKind.LOCAL
    workers: int = 1
    address: str | None = None
    retries: int = 2

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise MechscopeError(f"workers must be at least 1; got {self.workers}.")
        if self.retries < 0:
            raise MechscopeError(f"retries must be 0 or more; got {self.retries}.")
        if self.address is not None and self.kind is not ExecutorKind.RAY:
            raise MechscopeError("an address names a Ray cluster; add --executor ray.")

    @property
    def in_process(self) -> bool:
        """Whether shards run here, on the caller's model."""
        return self.kind is ExecutorKind.LOCAL and self.workers == 1


@dataclass(frozen=True)
class ModelRecipe:
    """What a worker loads: `mechscope.models.load_model`'s arguments.

    ``random_init_seed``: the model's random-init twin instead (`mechscope.models.random_like`
    with that seed), as the probes' control model is drawn.
    """

    spec: str
    device: str | None = "cpu"
    backend: str = "hooked"
    device_map: str | dict[str, str | int] | None = None
    random_init_seed: int | None = None

    def load(self) -> Any:  # noqa: ANN401 - a Model
        """The model, as `load_model` gives it."""
        from mechscope.models import load_model, random_like

        model = load_model(
            self.spec, device=self.device, backend=self.backend, device_map=self.device_map
        )
        return (
            model
            if self.random_init_seed is None
            else random_like(model, seed=self.random_init_seed)
        )


def map_shards(
    task: Callable[[Any, S], R],
    shards: Sequence[S],
    recipe: ModelRecipe,
    executor: Executor = Executor(),  # noqa: B008 - frozen
    *,
    model: Any = None,  # noqa: ANN401 - a loaded Model for in-process runs
    progress: bool = True,
    desc: str = "shards",
) -> list[R]:
    """``task(model, shard)`` for every shard, results in shard order.

    ``model``: the caller's model when it has one (used by the in-process executor; loaded
    from ``recipe`` otherwise).

    Raises:
        MechscopeError: a shard's task raised (named, with the first line of its error), a
            worker died more than ``executor.retries`` times, or Ray is not installed.
    """
    collected: _InOrder[R] = _InOrder(len(shards))
    _run_all(task, shards, recipe, executor, collected, model=model, progress=progress,
             desc=desc)  # fmt: skip
    return collected.kept


def fold_shards(
    task: Callable[[Any, S], R],
    shards: Sequence[S],
    fold: Callable[[R, R], R],
    recipe: ModelRecipe,
    executor: Executor = Executor(),  # noqa: B008 - frozen
    *,
    model: Any = None,  # noqa: ANN401 - a loaded Model for in-process runs
    progress: bool = True,
    desc: str = "shards",
) -> R:
    """``fold`` over the shards' results in shard order, each folded in as soon as it can be.

    What `map_shards` does, without holding every result: a result is folded into the
    running total once every earlier shard's has been (``fold(fold(r0, r1), r2)...``), so
    only those that came back early wait. For merges whose parts are large (a model-size
    gradient a shard).

    Raises:
        MechscopeError: as `map_shards`, or no shards.
    """
    if not shards:
        raise MechscopeError("no shards to fold; give at least one.")
    collected: _InOrder[R] = _InOrder(len(shards), fold)
    _run_all(task, shards, recipe, executor, collected, model=model, progress=progress,
             desc=desc)  # fmt: skip
    return collected.total


class _InOrder(Generic[R]):
    """Shard results taken in shard order: kept in a list, or folded as they come.

    ``add(index, result)`` in any order; a result waits only until every earlier one is in.
    """

    def __init__(self, n: int, fold: Callable[[R, R], R] | None = None) -> None:
        self.n, self.fold = n, fold
        self.waiting: dict[int, R] = {}
        self.next = 0
        self.kept: list[R] = []
        self._total: list[R] = []  # the running fold (empty before the first result)

    def add(self, index: int, result: R) -> None:
        """Take shard ``index``'s result."""
        self.waiting[index] = result
        while self.next in self.waiting:
            ready = self.waiting.pop(self.next)
            if self.fold is None:
                self.kept.append(ready)
            else:
                self._total = [self.fold(self._total[0], ready) if self._total else ready]
            self.next += 1

    def __contains__(self, index: int) -> bool:
        return index < self.next or index in self.waiting

    def __len__(self) -> int:
        return self.next + len(self.waiting)

    @property
    def total(self) -> R:
        """The fold of every result."""
        assert self.next == self.n and self._total, "not every shard's result is in"
        return self._total[0]


def _run_all(
    task: Callable[[Any, S], R],
    shards: Sequence[S],
    recipe: ModelRecipe,
    executor: Executor,
    collected: _InOrder[R],
    *,
    model: Any,  # noqa: ANN401
    progress: bool,
    desc: str,
) -> None:
    """Every shard on ``executor``, each result handed to ``collected`` as it comes back."""
    if not shards:
        return
    bar = tqdm(total=len(shards), desc=desc, disable=not progress)
    try:
        if executor.in_process:
            model = model if model is not None else recipe.load()
            for index, shard in enumerate(shards):
                collected.add(index, _run_shard(task, model, index, shard))
                bar.update()
            return
        kept = _KEPT.get()
        if kept is not None:
            kept.workers(executor).map(task, shards, recipe, executor, bar, collected)
            return
        workers = _start(executor, min(executor.workers, len(shards)))
        try:
            workers.map(task, shards, recipe, executor, bar, collected)
        finally:
            workers.close()
    finally:
        bar.close()


class _Kept:
    """The workers started inside one ``keep_workers`` block, one set per executor."""

    def __init__(self) -> None:
        self.started: dict[Executor, _Processes | _RayActors] = {}

    def workers(self, executor: Executor) -> "_Processes | _RayActors":
        if executor not in self.started:
            self.started[executor] = _start(executor, executor.workers)
        return self.started[executor]

    def close(self) -> None:
        for workers in self.started.values():
            workers.close()
        self.started.clear()


_KEPT: ContextVar[_Kept | None] = ContextVar("mechscope_kept_workers", default=None)


@contextmanager
def keep_workers() -> Iterator[None]:
    """Keep the workers `map_shards` starts until the block ends (module docstring).

    Nested blocks share the outermost one's workers. On leaving (done, an error or Ctrl-C)
    every worker process is stopped and every Ray actor killed.
    """
    if _KEPT.get() is not None:
        yield
        return
    kept = _Kept()
    token = _KEPT.set(kept)
    try:
        yield
    finally:
        _KEPT.reset(token)
        kept.close()


def _start(executor: Executor, workers: int) -> "_Processes | _RayActors":
    if executor.kind is ExecutorKind.RAY:
        return _RayActors(executor, workers)
    return _Processes(workers)


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` on this machine (at least one)."""
    return max(1, (os.cpu_count() or 1) // workers)


def _run_shard(task: Callable[[Any, S], R], model: Any, index: int, shard: S) -> R:  # noqa: ANN401
    try:
        return task(model, shard)
    except MechscopeError as error:
        raise MechscopeError(f"shard {index}: {error}") from None
    except Exception as error:  # noqa: BLE001 - named in one line, the shard given
        first = (str(error).strip().splitlines() or [""])[0]
        raise MechscopeError(f"shard {index} failed: {type(error).__name__}: {first}") from error


# --- local processes ----------------------------------------------------------------------
# Each spawned worker process holds the models it was asked for here, loaded on first use (a
# process-wide slot is what a worker process is for; nothing in the caller's process uses it).
_WORKER_MODELS: dict[str, Any] = {}


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _worker_model(recipe: ModelRecipe) -> Any:  # noqa: ANN401 - a Model
    key = repr(recipe)
    if key not in _WORKER_MODELS:
        _WORKER_MODELS[key] = recipe.load()
    return _WORKER_MODELS[key]


def _worker_task(task: Callable[[Any, S], R], recipe: ModelRecipe, index: int, shard: S) -> R:
    return _run_shard(task, _worker_model(recipe), index, shard)


class _Processes:
    """Spawned worker processes (a pool replaced when one of them dies)."""

    def __init__(self, workers: int) -> None:
        self.n = workers
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # no forked copy of torch's threads
            self._pool = ProcessPoolExecutor(self.n, mp_context=context,
                                             initializer=_init_worker,
                                             initargs=(threads_per_worker(self.n),))  # fmt: skip
        return self._pool

    def stop(self) -> None:
        """Stop every worker now (queued shards are dropped); the next `pool` starts anew."""
        if self._pool is not None:
            processes = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, task: Callable[[Any, S], R], shards: Sequence[S], recipe: ModelRecipe,
            executor: Executor, bar: tqdm, results: _InOrder[R]) -> None:  # fmt: skip
        deaths = dict.fromkeys(range(len(shards)), 0)
        while len(results) < len(shards):
            pool = self.pool()
            pending: dict[Future, int] = {}
            try:
                for index, shard in enumerate(shards):
                    if index not in results:
                        pending[pool.submit(_worker_task, task, recipe, index, shard)] = index
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        results.add(pending[future], future.result())  # an error propagates
                        del pending[future]  # (after: a shard whose worker died stays pending)
                        bar.update()
            except BrokenProcessPool:  # a worker died: rerun its shards in a new pool
                self.stop()
                for index in pending.values():
                    deaths[index] += 1
                    if deaths[index] > executor.retries:
                        raise MechscopeError(
                            f"shard {index}: its worker died {deaths[index]} times (killed or "
                            "out of memory); use fewer --workers or smaller shards."
                        ) from None
            except BaseException:  # a failing shard or Ctrl-C: stop everything queued
                self.stop()
                raise


# --- Ray -------------------------------------------------------------------------------------


class _RayWorker:
    """A Ray actor holding the models it was asked for."""

    def __init__(self, threads: int) -> None:
        _init_worker(threads)

    def run(self, task: Callable[[Any, S], R], recipe: ModelRecipe, index: int,
            shard: S) -> tuple[int, R]:  # fmt: skip
        return index, _worker_task(task, recipe, index, shard)


def _ray() -> Any:  # noqa: ANN401 - the ray module
    try:
        import ray  # pyright: ignore[reportMissingImports] - the scale extra
    except ImportError:
        raise MechscopeError(
            "--executor ray needs Ray: pip install 'mechscope[scale]' (or pip install ray)."
        ) from None
    return ray


class _RayActors:
    """Ray actors on a cluster (a local one started, and shut down on `close`, when needed)."""

    def __init__(self, executor: Executor, workers: int) -> None:
        self.executor, self.n = executor, workers
        self.actors: list[Any] = []
        self.started = False

    def start(self) -> None:
        ray, executor, workers = _ray(), self.executor, self.n
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(
                address=executor.address,
                num_cpus=None if executor.address else executor.workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        threads = 1 if executor.address else threads_per_worker(workers)
        actor = ray.remote(num_cpus=1, max_restarts=executor.retries,
                           max_task_retries=executor.retries)(_RayWorker)  # fmt: skip
        self.actors = [actor.remote(threads) for _ in range(workers)]

    def close(self) -> None:
        if not self.actors and not self.started:
            return
        ray = _ray()
        for a in self.actors:  # their queued shards go with them
            ray.kill(a)
        self.actors = []
        if self.started:
            ray.shutdown()
            self.started = False

    def map(self, task: Callable[[Any, S], R], shards: Sequence[S], recipe: ModelRecipe,
            executor: Executor, bar: tqdm, results: _InOrder[R]) -> None:  # fmt: skip
        if not self.actors:
            self.start()  # first: without Ray installed, its one-line error
        from ray.exceptions import (  # pyright: ignore[reportMissingImports]
            RayActorError,
            RayTaskError,
        )
        from ray.util import ActorPool  # pyright: ignore[reportMissingImports]

        try:
            pool = ActorPool(self.actors)
            work = list(enumerate(shards))
            calls = pool.map_unordered(lambda a, item: a.run.remote(task, recipe, *item), work)
            for index, result in calls:
                results.add(index, result)
                bar.update()
        except RayTaskError as error:
            self.close()  # the other actors' queued shards go
            cause = error.cause if isinstance(error.cause, MechscopeError) else None
            raise (
                cause or MechscopeError(f"a shard failed: {str(error).splitlines()[0]}")
            ) from None
        except RayActorError as error:
            self.close()
            raise MechscopeError(
                f"a worker died more than {executor.retries} times ({type(error).__name__}); "
                "use fewer workers or smaller shards."
            ) from None
        except BaseException:  # Ctrl-C: the actors go
            self.close()
            raise
