"""notebooks/features.py runs top to bottom, with the known answers it shows."""

import runpy
from pathlib import Path

import pytest
import torch

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "features.py"


def test_an_sae_on_the_induction_heads_output_has_causal_second_copy_features():
    pytest.importorskip("sae_lens", reason="install mechscope[sae] for the features notebook")
    ns = runpy.run_path(str(NOTEBOOK))
    assert ns["evaluation"].explained_variance > 0.8
    assert len(ns["second"]) >= 10  # features labelled "second copy" beyond the control
    # zeroing them costs the induction task many times what zeroing as many others costs
    drop_second = ns["clean_diff"] - ns["without_second"]
    drop_others = ns["clean_diff"] - ns["without_others"]
    assert drop_second > 0.5 and drop_second > 5 * abs(drop_others)
    attribution = ns["attribution"]
    assert abs(attribution.baseline - ns["clean_diff"]) < 1e-4  # the error term keeps it exact
    assert torch.equal(attribution.top, attribution.estimate.abs().topk(5).indices)
    assert ns["steering"].kl() > 0.01
    assert "<tr><td>" in ns["browser"]
