"""Over-fitting a tiny corpus: the early-stopping signal and the representations over training."""

from experiments.overfitting import Config, OverfittingResult
from experiments.overfitting.config import JOB
from mechscope.core.results import load_result
from tests.jobs import run_job


def test_the_run_stops_after_held_out_loss_rises_and_the_geometry_is_tracked(tmp_path):
    result = run_job(JOB, Config(out=tmp_path, seeds=1, steps=600))
    # measured (3 seeds): best held-out loss at step 250, stopped at 400 in every seed
    stop, best = result.stopped_at[0], result.best_step()[0]
    assert stop is not None and best < stop
    steps = result.steps.tolist()
    held_out = result.held_out[0]
    assert float(held_out[steps.index(stop)]) > float(held_out[steps.index(best)])
    # After the last block the byte classes spread out as the model memorises: class ratio
    # 0.62-0.96 at step 50 -> 1.54-1.60 at the stop; effective rank 68-70 -> 94-96.
    first, last = 1, steps.index(stop)
    assert float(result.ratio[0, last, -1]) > float(result.ratio[0, first, -1])
    assert float(result.rank[0, last, -1]) > float(result.rank[0, first, -1])
    assert isinstance(load_result(tmp_path), OverfittingResult)
