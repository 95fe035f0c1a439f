"""Training small transformers (attention-only or with MLPs) on text, with checkpoints.

See `mechscope.training.config` for the recipe and `mechscope.training.run_dir` for what a
run writes. Names are imported on first use, so the config imports without torch.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.training.config import TrainConfig
    from mechscope.training.evaluation import Evaluation, evaluate
    from mechscope.training.loop import TrainingInterrupted, TrainRun, train
    from mechscope.training.run_dir import list_checkpoints, read_config, read_metrics

_EXPORTS = {
    "TrainConfig": "mechscope.training.config",
    "Evaluation": "mechscope.training.evaluation",
    "evaluate": "mechscope.training.evaluation",
    "TrainingInterrupted": "mechscope.training.loop",
    "TrainRun": "mechscope.training.loop",
    "train": "mechscope.training.loop",
    "list_checkpoints": "mechscope.training.run_dir",
    "read_config": "mechscope.training.run_dir",
    "read_metrics": "mechscope.training.run_dir",
}
__all__ = [
    "Evaluation",
    "TrainConfig",
    "TrainRun",
    "TrainingInterrupted",
    "evaluate",
    "list_checkpoints",
    "read_config",
    "read_metrics",
    "train",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
