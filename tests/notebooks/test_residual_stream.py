"""notebooks/residual_stream.py runs top to bottom on the shipped model, with known results."""

import runpy
from pathlib import Path

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "residual_stream.py"


def test_the_stream_adds_up_the_induction_heads_write_the_answer_and_copy():
    namespace = runpy.run_path(str(NOTEBOOK))
    assert namespace["decomposition"].error() < 1e-4
    assert namespace["attribution"].error() < 1e-4
    assert namespace["top_part"].startswith("1.")  # an induction head (layer 1) writes 'm'
    assert namespace["layer"] == 1 and namespace["copying"] > 0.9  # measured 0.99
    assert namespace["diagonal"] > 0.8  # measured 0.96 of 26 letters
