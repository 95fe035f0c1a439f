"""The induction circuit of the shipped 2-layer model, read from weights and stream."""

from experiments.induction_circuits import Config, InductionCircuitsResult
from experiments.induction_circuits.config import JOB
from mechscope.core.results import load_result
from tests.findings import rendered
from tests.jobs import run_job


def test_the_weights_and_the_stream_show_elhage_et_al_s_circuit(tmp_path):
    result = run_job(JOB, Config(out=tmp_path, n_prompts=16))
    verdicts = {row["claim"][:30]: row["verdict"] for row in result.claims}
    assert set(verdicts.values()) == {"agrees"}, result.claims
    assert result.induction_heads and all(h.startswith("1.") for h in result.induction_heads)
    # measured: copying 0.91-0.99 in layer 1, below 0 in layer 0; share 1.01 ± 0.00
    assert float(result.copying[1].min()) > 0.8 and float(result.copying[0].max()) < 0
    assert 0.9 < float(result.share.mean()) < 1.1
    assert isinstance(load_result(tmp_path), InductionCircuitsResult)
    # The findings page renders from this run too (every field has a number).
    page = rendered("induction-circuits", result)
    assert "{" not in page and "16 rows of 40" in page
