"""notebooks/attribution_graphs.py runs top to bottom on SmolLM2, with known results."""

import runpy
from pathlib import Path

from tests.browser import assert_drew
from tests.smollm import require_smollm

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "attribution_graphs.py"

require_smollm()


def test_the_graph_is_exact_mostly_error_nodes_and_its_late_features_hold_up(capsys):
    ns = runpy.run_path(str(NOTEBOOK))
    # the replacement model is the model on its prompt, and the logit splits exactly
    assert ns["gap"] < 1e-3 and ns["split"].completeness_gap() < 1e-3
    assert abs(ns["split"].logit - 17.37) < 0.05  # the facts page's logit(' Paris')
    # measured: explained variance 0.51 / 0.00 / 0.16; error nodes 0.78 of the direct effects;
    # replacement score 0.009 with 27 of 30 MLPs as error nodes
    assert ns["explained"][27] > 0.3
    assert ns["split"].error_share() > 0.5
    graph = ns["graph"]
    assert graph.scores["replacement_pruned"] < 0.05 and graph.n_explored == 128
    # last-layer features: the real model follows the graph (measured r = 0.995 over 20)
    check = ns["check"]
    assert len(check.features) == 20 and check.correlation("total") > 0.9
    grouped = ns["grouped"]
    assert {g: len(m) for g, m in grouped.groups.items()} == {"raise Paris": 10, "lower Paris": 10}
    assert len(grouped.nodes) == len(graph.nodes) - 18
    assert "raise Paris" in ns["path"].read_text()
    assert assert_drew(ns["path"]).n_figures == 2  # the graph and the real-model check
    assert "strongest path from ' France'" in capsys.readouterr().out
