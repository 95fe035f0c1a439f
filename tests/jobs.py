"""Run an experiment's or a command's Job as the command line does, from a test."""

from typing import Any

from mechscope.cli.runner import perform
from mechscope.core.jobs import Job, results_by_directory


def run_job(job: Job, cfg: Any) -> Any:
    """Run ``job`` through the one runner (output policy, saving, report, no printing) and
    return the result saved into ``cfg.out`` itself."""
    return results_by_directory(perform(job, cfg, show=False))[""]
