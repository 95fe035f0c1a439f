"""Training small transformers on text (`train`) and ViTs on images (`train_vit`).

One loop (`fit`) trains both, each kind of model supplying its data, loss and evaluation as
a `TrainingCallbacks`. See `mechscope.training.config` for the recipes (their remedies for
what the diagnostics find, `RemedyOptions`, act through `mechscope.training.remedies`) and
`mechscope.training.run_dir` for what a run writes. Names are imported on first use, so the
config imports without torch.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.training.batches import N_BYTE_TOKENS, eval_text_batch, text_windows
    from mechscope.training.config import RemedyOptions, TrainConfig, VitTrainConfig
    from mechscope.training.evaluation import (
        Evaluation,
        TrainingRecord,
        eval_settings,
        evaluate,
        icl_scores,
    )
    from mechscope.training.finetune import (
        FinetuneSettings,
        FrozenSweep,
        finetune_classifier,
        frozen_sweep,
    )
    from mechscope.training.health import should_stop
    from mechscope.training.loop import (
        TrainingCallbacks,
        TrainingInterrupted,
        TrainRun,
        fit,
        model_config,
        train,
    )
    from mechscope.training.run_dir import (
        CONFIG_FILE,
        final_model_dir,
        list_checkpoints,
        read_config,
        read_metrics,
        read_recipe,
    )
    from mechscope.training.vision import VitRecord, VitRun, accuracy_and_loss, train_vit

_EXPORTS = {
    "FinetuneSettings": "mechscope.training.finetune",
    "FrozenSweep": "mechscope.training.finetune",
    "finetune_classifier": "mechscope.training.finetune",
    "frozen_sweep": "mechscope.training.finetune",
    "accuracy_and_loss": "mechscope.training.vision",
    "CONFIG_FILE": "mechscope.training.run_dir",
    "eval_settings": "mechscope.training.evaluation",
    "eval_text_batch": "mechscope.training.batches",
    "evaluate": "mechscope.training.evaluation",
    "Evaluation": "mechscope.training.evaluation",
    "final_model_dir": "mechscope.training.run_dir",
    "fit": "mechscope.training.loop",
    "icl_scores": "mechscope.training.evaluation",
    "list_checkpoints": "mechscope.training.run_dir",
    "model_config": "mechscope.training.loop",
    "N_BYTE_TOKENS": "mechscope.training.batches",
    "read_config": "mechscope.training.run_dir",
    "read_recipe": "mechscope.training.run_dir",
    "read_metrics": "mechscope.training.run_dir",
    "should_stop": "mechscope.training.health",
    "text_windows": "mechscope.training.batches",
    "train": "mechscope.training.loop",
    "TrainConfig": "mechscope.training.config",
    "TrainingInterrupted": "mechscope.training.loop",
    "TrainingCallbacks": "mechscope.training.loop",
    "train_vit": "mechscope.training.vision",
    "VitRecord": "mechscope.training.vision",
    "VitRun": "mechscope.training.vision",
    "VitTrainConfig": "mechscope.training.config",
    "RemedyOptions": "mechscope.training.config",
    "TrainingRecord": "mechscope.training.evaluation",
    "TrainRun": "mechscope.training.loop",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "FinetuneSettings",
    "FrozenSweep",
    "finetune_classifier",
    "frozen_sweep",
    "CONFIG_FILE",
    "Evaluation",
    "N_BYTE_TOKENS",
    "TrainConfig",
    "TrainRun",
    "TrainingCallbacks",
    "TrainingInterrupted",
    "TrainingRecord",
    "VitRecord",
    "VitRun",
    "VitTrainConfig",
    "RemedyOptions",
    "accuracy_and_loss",
    "eval_settings",
    "eval_text_batch",
    "evaluate",
    "final_model_dir",
    "fit",
    "icl_scores",
    "list_checkpoints",
    "model_config",
    "read_config",
    "read_recipe",
    "read_metrics",
    "should_stop",
    "text_windows",
    "train",
    "train_vit",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
