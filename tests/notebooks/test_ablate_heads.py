"""notebooks/ablate_heads.py (jupytext percent format) runs top to bottom, with known results."""

import runpy
from pathlib import Path

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "ablate_heads.py"


def test_the_notebook_runs_and_shows_the_circuit(capsys):
    namespace = runpy.run_path(str(NOTEBOOK))
    rows = namespace["rows"]
    clean_second = rows["nothing"][1]
    assert rows["induction heads (zero)"][1] > clean_second + 1.0
    assert rows["previous-token head (zero)"][1] > clean_second + 1.0
    # Ablating the previous-token head takes the induction heads' attention away.
    drop = namespace["clean_attention"] - namespace["broken_attention"]
    assert float(namespace["clean_attention"].min()) > 0.7
    assert float(drop.min()) > 0.4  # measured 0.54-0.60 per head
    assert "induction heads:" in capsys.readouterr().out
