"""Direct logit attribution on SmolLM2-135M (4-bit GGUF, dequantised)."""

import pytest

from tests.smollm import require_smollm

require_smollm()

from experiments.smollm_dla import Config, DlaResult  # noqa: E402
from experiments.smollm_dla.config import JOB  # noqa: E402
from mechscope.core.results import load_result  # noqa: E402
from tests.findings import rendered  # noqa: E402
from tests.jobs import run_job  # noqa: E402


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> DlaResult:
    return run_job(JOB, Config(out=tmp_path_factory.mktemp("dla"), ioi_prompts=24))


def test_parts_sum_to_the_logits(result):
    assert max(result.errors.values()) < 1e-3


def test_the_ioi_heads_that_patching_names_write_the_answer_directly(result):
    """Patching named 23.3, 23.0 and 29.1 (README); measured DLA 2.52, 0.97, 1.43 on 48."""
    top = [row["part"] for row in result.top["ioi"][:4]]
    assert "23.3" in top and "29.1" in top
    assert result.top["ioi"][0]["mean"] > 1.0


def test_late_mlps_write_the_facts_and_the_belt_ends_at_the_logit(result):
    top = [row["part"] for row in result.top["facts"][:3]]
    assert all(part.startswith("mlp 2") for part in top)  # measured mlp 29, 27, 28
    assert result.lens_rank[-1] == 1
    assert isinstance(load_result(result_dir := result.provenance.config["out"]), DlaResult)
    assert str(result_dir)


def test_the_findings_page_renders_from_the_run(result):
    page = rendered("smollm-dla", result)
    assert "{" not in page and "IOI, IO - S, 24 prompts" in page
