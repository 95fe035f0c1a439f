"""Bounded memory: a corpus job runs under a hard data limit with its memory budget, and the
same job without the budget cannot (so the limit does bite)."""

import resource
import subprocess
import sys

import pytest

from tests.treebank import write_treebank

LIMIT_MB = 1200  # measured: the budgeted job peaks near 650 MB RSS, the unbudgeted at 2.7 GB


def _run_limited(args, tmp_path):
    limit = LIMIT_MB * 2**20

    def limit_data() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "mechscope", *args],
        preexec_fn=limit_data,  # noqa: PLW1509 - nothing else runs threads in this test
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_DATA"), reason="needs RLIMIT_DATA (Linux)")
def test_heads_on_a_corpus_stays_within_its_budget_under_a_hard_limit(tmp_path):
    # 400 sentences of 26 words (~110 byte tokens), all in one chunk of 512 rows without a
    # budget: every layer's attention kept for the no-op gradient.
    corpus = write_treebank(tmp_path / "long.conllu", 400, clauses=4)
    common = ["heads", "induction-2l", "--conllu", str(corpus), "--batch-size", "512"]
    budgeted = _run_limited([*common, "--memory-budget-mb", "64", "--out", "a"], tmp_path)
    assert budgeted.returncode == 0, budgeted.stderr[-2000:]
    assert (tmp_path / "a" / "result.json").exists()
    assert "syntax: 400 sentences" in budgeted.stdout

    unbounded = _run_limited([*common, "--memory-budget-mb", "None", "--out", "b"], tmp_path)
    assert unbounded.returncode == 2, unbounded.stderr[-2000:]
    last = unbounded.stderr.strip().splitlines()[-1]
    assert last.startswith("mechscope: error: out of memory"), last
    assert "Traceback" not in unbounded.stderr
    assert not (tmp_path / "b").exists()
