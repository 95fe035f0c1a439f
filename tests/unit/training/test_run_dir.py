"""What a run directory accepts: a new or empty directory, or an unfinished run to replace."""

import pytest

from mechscope.training import TrainConfig
from mechscope.training.run_dir import RunDirError, start_run_dir


def test_a_directory_holding_something_else_is_refused_and_kept(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "report.html").write_text("a report")
    with pytest.raises(RunDirError, match=r"not empty and holds no training run \(report.html\)"):
        start_run_dir(results, TrainConfig())
    assert [p.name for p in results.iterdir()] == ["report.html"]
    start_run_dir(tmp_path / "new", TrainConfig())  # a new directory
    (tmp_path / "empty").mkdir()
    start_run_dir(tmp_path / "empty", TrainConfig())  # an empty one
    start_run_dir(tmp_path / "empty", TrainConfig())  # an unfinished run (no checkpoint)
    assert (tmp_path / "empty" / "config.json").exists()
