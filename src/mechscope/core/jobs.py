"""The one Job contract: every command and every experiment is a Job.

A Job names four things, each as ``module:attribute`` so that naming a job (and its
``--help``) imports neither torch nor TransformerLens:

- ``config``: a frozen, keyword-only Config dataclass (per-field docstrings are the help).
  A Config with an ``out`` field writes a results directory; with ``overwrite`` too, it
  may replace one.
- ``run(cfg) -> Results``: the work. It returns a `Result`, a mapping from a subdirectory of
  ``--out`` (``""``: ``--out`` itself) to Results, an `Outcome` (such a mapping plus what the
  summary and report need besides, e.g. the tokenizer's strings), or anything else that saves
  nothing (a training run, a verdict). It saves no result itself; it may write what it
  streams as it goes (a training run's checkpoints under ``--out``, kept for resume).
- ``summary(results, cfg) -> Iterable[str]``: the lines printed when the job is done.
- ``report(results, cfg) -> Report | None``: the HTML page written to ``--out/report.html``.

One runner executes every job (`mechscope.cli.runner.execute`): it parses the command line,
owns ``--out`` (refused if it holds results unless ``--overwrite``; the old results are set
aside and restored if the job fails, is interrupted by Ctrl-C or SIGTERM; nothing partial is
left), saves the results, writes the report, prints the summary, and turns every user error
into one line and exit 2. ``mechscope reproduce NAME`` runs the experiments' Jobs, listed by
`experiment_jobs` from the experiments themselves, so the list cannot drift.
"""

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from mechscope.core.errors import MechscopeError

if TYPE_CHECKING:
    from mechscope.core.results import Result

    Results: TypeAlias = Result | Mapping[str, Result] | None
    """What a job's ``run`` returns: one result (saved into ``--out``), results by
    subdirectory of ``--out`` (``""`` is ``--out`` itself), or None."""

__all__ = ["Job", "Outcome", "experiment_jobs", "job_table", "results_by_directory"]


@dataclass(frozen=True, kw_only=True)
class Job:
    """A command or an experiment: its name, Config, work, summary and report."""

    name: str
    """How the command line names it (``heads``, ``smollm-facts``)."""
    config: str
    """``module:Class`` of its Config (a module that imports no torch)."""
    run: str
    """``module:function``: ``run(cfg) -> Results``."""
    summary: str = ""
    """``module:function``: ``summary(results, cfg) -> Iterable[str]`` ('' prints nothing)."""
    report: str = ""
    """``module:function``: ``report(results, cfg) -> Report | None`` ('' writes none)."""

    def config_class(self) -> type:
        """The Config dataclass (imports only its module)."""
        return _attribute(self.config)

    def description(self) -> str:
        """The first line of the Config's docstring: what the job does."""
        doc = self.config_class().__doc__ or ""
        return doc.strip().split("\n")[0]

    def do(self, cfg: Any) -> Any:  # noqa: ANN401 - the job's own Config and Results
        """Run the work."""
        return _attribute(self.run)(cfg)

    def lines(self, results: Any, cfg: Any) -> Iterable[str]:  # noqa: ANN401 - the job's own
        """The summary lines of ``results``."""
        return _attribute(self.summary)(results, cfg) if self.summary else ()

    def page(self, results: Any, cfg: Any) -> Any:  # noqa: ANN401 - a viz Report or None
        """The report of ``results``, or None."""
        return _attribute(self.report)(results, cfg) if self.report else None


def job_table(jobs: Mapping[str, Job]) -> list[str]:
    """One help line per job: its name, aligned, and what it does."""
    width = max(map(len, jobs), default=0)
    return [f"  {name:<{width}}  {job.description()}" for name, job in jobs.items()]


def _attribute(path: str) -> Any:  # noqa: ANN401 - a class or a function
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Outcome:
    """A run's results, and what its summary and report need besides (token strings...)."""

    results: "Mapping[str, Result]"
    """By subdirectory of ``--out`` (``""``: ``--out`` itself)."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Anything else the summary and the report read (not saved)."""

    @property
    def main(self) -> "Result":
        """The result saved into ``--out`` itself."""
        return self.results[""]


def results_by_directory(results: Any) -> "dict[str, Result]":  # noqa: ANN401 - Results
    """``run``'s return value as {subdirectory of --out: result} ('' for --out itself).

    Anything that is not a Result, a mapping of them, an `Outcome` or an object whose
    ``results()`` gives such a mapping (a training run, a verdict) saves nothing.
    """
    from mechscope.core.results import Result

    if isinstance(results, Outcome):
        results = results.results
    elif callable(getattr(results, "results", None)):  # e.g. a probe Survey
        results = results.results()
    if isinstance(results, Result):
        return {"": results}
    if isinstance(results, Mapping):
        return {str(k): v for k, v in results.items() if isinstance(v, Result)}
    return {}


def experiment_jobs(package: str = "experiments") -> dict[str, Job]:
    """Every experiment's Job, from each subpackage's ``config.JOB``, by name.

    Raises:
        MechscopeError: no experiments package can be imported (not in a checkout).
    """
    try:
        root = importlib.import_module(package)
    except ImportError as error:
        raise MechscopeError(
            "reproductions live in a mechscope checkout's experiments/ folder; run this from "
            "the repository (or use python -m experiments.NAME there)."
        ) from error
    jobs = {}
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{package}.{info.name}.config")
        job = getattr(module, "JOB", None)
        if isinstance(job, Job):
            jobs[job.name] = job
    return jobs
