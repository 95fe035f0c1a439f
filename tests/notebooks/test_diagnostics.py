"""notebooks/diagnostics.py runs top to bottom, with the known answers it shows."""

import runpy
from pathlib import Path

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "diagnostics.py"


def test_rank_collapses_without_skips_and_the_exploding_run_is_flagged():
    namespace = runpy.run_path(str(NOTEBOOK))
    with_skips, collapsed = namespace["with_skips"], namespace["collapsed"]
    assert float(collapsed[-1]) < 0.1 < float(with_skips[-1])  # measured 0.029 vs 0.64
    assert (collapsed[1:] < with_skips[1:]).all()
    health = namespace["health"]
    assert health["pre-LN"].flags() == [] and health["no LayerNorm"].flags() == []
    assert health["no LayerNorm, weights x4"].flags() == ["exploding"]  # norms ~1e17
