"""The logit lens on facts in SmolLM2-135M (4-bit GGUF, dequantised), end to end."""

from pathlib import Path

import pytest
import torch

from tests.smollm import require_smollm

require_smollm()

from experiments.smollm_facts import Config, FactsLensResult  # noqa: E402
from experiments.smollm_facts.config import JOB  # noqa: E402
from mechscope.core.results import load_result  # noqa: E402
from mechscope.data.facts import FACTS  # noqa: E402
from tests.findings import rendered  # noqa: E402
from tests.jobs import run_job  # noqa: E402


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> FactsLensResult:
    return run_job(JOB, Config(out=tmp_path_factory.mktemp("facts")))


def test_the_prompt_set_and_what_the_model_answers(result):
    assert len(FACTS) >= 50
    kept = int(result.kept.sum())
    assert kept >= 30  # measured 41 of 59 single-token facts
    france = next(f for f in result.facts if f["prompt"] == "The capital of France is")
    assert france["kept"] and result.france_top[-1][0][0] == " Paris"


def test_the_answer_forms_in_the_last_layers(result):
    summary = result.summary()
    n = len(summary)
    assert all(row["median_rank"] > 100 for row in summary[: n // 2])  # first half: far off
    # The last boundary is the model itself; float32 sums over 49,152 tokens leave 3e-4.
    assert summary[-1]["median_rank"] == 1 and summary[-1]["kl"] == pytest.approx(0, abs=1e-3)
    entries = torch.tensor(result.first_boundary(10))
    assert float(entries.float().median()) >= n * 3 / 4  # top-10 only in the last quarter


def test_the_report_and_the_result_load_back(result):
    out = result.provenance.config["out"]
    loaded = load_result(out)
    assert isinstance(loaded, FactsLensResult) and torch.equal(loaded.rank, result.rank)
    page = (Path(out) / "report.html").read_text()
    assert page.count("Plotly.newPlot") == 3


def test_the_findings_page_renders_from_the_run(result):
    page = rendered("smollm-facts", result)
    assert "{" not in page and "| median rank of the answer |" in page
