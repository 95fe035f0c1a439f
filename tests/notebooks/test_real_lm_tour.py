"""notebooks/real_lm_tour.py runs top to bottom on SmolLM2, with known results."""

import runpy
from pathlib import Path

from tests.smollm import require_smollm

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "real_lm_tour.py"

require_smollm()


def test_the_tour_runs_and_finds_what_it_shows(capsys):
    namespace = runpy.run_path(str(NOTEBOOK))
    ranks = namespace["paris_rank"]
    assert int(ranks[-1]) == 1 and int(ranks[: len(ranks) // 2].min()) > 100
    assert namespace["best_score"] >= 0.5
    change = dict(
        zip(namespace["effects"].labels, namespace["effects"].change.tolist(), strict=True)
    )
    assert change[str(namespace["best"])] == max(change.values()) > 1.0
    runs = namespace["runs"]
    assert runs.clean_value > 2.0 > runs.corrupted_value  # the model does IOI; ABC removes it
    assert float(namespace["patched"].normalised.nan_to_num(-1).max()) > 0.1
    assert "strongest late head" in capsys.readouterr().out
