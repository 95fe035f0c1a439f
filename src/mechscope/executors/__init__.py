"""Executors: corpus jobs in shards on worker processes or a Ray cluster, merged exactly.

- `executor`: `Executor` (local processes or Ray, workers, cluster address, retries),
  `ModelRecipe` (what each worker loads once), `map_shards` (shards out, results back in
  order, faults retried or named), `fold_shards` (the results folded in order as they
  come), `keep_workers` (one set of workers for a whole job);
- `sharded`: `sharded_detect_heads` (with a treebank's dependency accuracies),
  `sharded_collect` (activations for probes), `sharded_read_sites` (an SAE's training
  activations), `sharded_diagnose` (every diagnostic), `sharded_patching` (prompt pairs),
  each equal to its one-process job (`docs/scale.md` for when to use which).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.executors.executor import (
        Executor,
        ExecutorKind,
        ModelRecipe,
        fold_shards,
        keep_workers,
        map_shards,
        threads_per_worker,
    )
    from mechscope.executors.sharded import (
        add_accumulated,
        pair_subset,
        shard_ranges,
        sharded_collect,
        sharded_detect_heads,
        sharded_diagnose,
        sharded_patching,
        sharded_read_sites,
        site_reader,
    )

_EXPORTS = {
    "Executor": "mechscope.executors.executor",
    "ExecutorKind": "mechscope.executors.executor",
    "ModelRecipe": "mechscope.executors.executor",
    "fold_shards": "mechscope.executors.executor",
    "keep_workers": "mechscope.executors.executor",
    "map_shards": "mechscope.executors.executor",
    "threads_per_worker": "mechscope.executors.executor",
    "add_accumulated": "mechscope.executors.sharded",
    "pair_subset": "mechscope.executors.sharded",
    "shard_ranges": "mechscope.executors.sharded",
    "sharded_collect": "mechscope.executors.sharded",
    "sharded_detect_heads": "mechscope.executors.sharded",
    "sharded_diagnose": "mechscope.executors.sharded",
    "sharded_patching": "mechscope.executors.sharded",
    "sharded_read_sites": "mechscope.executors.sharded",
    "site_reader": "mechscope.executors.sharded",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "Executor",
    "ExecutorKind",
    "ModelRecipe",
    "add_accumulated",
    "fold_shards",
    "keep_workers",
    "map_shards",
    "pair_subset",
    "shard_ranges",
    "sharded_collect",
    "sharded_detect_heads",
    "sharded_diagnose",
    "sharded_patching",
    "sharded_read_sites",
    "site_reader",
    "threads_per_worker",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
