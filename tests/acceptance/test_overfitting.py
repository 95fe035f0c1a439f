"""Over-fitting a tiny corpus: the early-stopping signal and the representations over training."""

import glob

from experiments.overfitting import Config, OverfittingResult
from experiments.overfitting.config import JOB
from mechscope.core.results import load_result
from tests.findings import rendered
from tests.jobs import run_job


def test_the_run_stops_after_held_out_loss_rises_and_the_geometry_is_tracked(tmp_path):
    # A smaller file (glob.py, 8.7 KB, against the default textwrap.py's 19.7 KB) memorised
    # sooner, evaluated every 25 steps, stopped after 2 rising evaluations, 16 windows a step
    # (the default 32 takes fewer steps, 275 against 350 on seed 0, but 45-50 s a run here
    # against 29-33 s). Measured (3 seeds): best held-out loss at steps 300, 275 and 250,
    # stopped at 350, 325 and 350.
    cfg = Config(out=tmp_path, seeds=1, steps=600, eval_every=25, patience=2, batch_size=16,
                 corpus=(glob.__file__,))  # fmt: skip
    result = run_job(JOB, cfg)
    stop, best = result.stopped_at[0], result.best_step()[0]
    assert stop is not None and best < stop
    steps = result.steps.tolist()
    held_out = result.held_out[0]
    assert float(held_out[steps.index(stop)]) > float(held_out[steps.index(best)])
    # After the last block the byte classes spread out as the model memorises: class ratio
    # 1.05-1.28 at step 50 -> 1.42-1.51 at the stop; effective rank 72-76 -> 92 (3 seeds).
    first, last = steps.index(50), steps.index(stop)
    assert float(result.ratio[0, last, -1]) > float(result.ratio[0, first, -1])
    assert float(result.rank[0, last, -1]) > float(result.rank[0, first, -1])
    assert isinstance(load_result(tmp_path), OverfittingResult)
    # The findings page renders from this run too (every field has a number).
    page = rendered("overfitting", result)
    assert "{" not in page and "glob.py" in page
