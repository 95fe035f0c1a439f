"""Vision transformers: what is 2-D about them (the grid, objects, their views).

On a `mechscope.models.vit.HookedViT` (``load_model("vit-digits")``, ``"vit-shapes"``), what
only images have; everything else runs on an `ImageBatch` through the same packages as text
(`mechscope.interventions` for patching and ablation, `mechscope.representations.collect`
for probes, `mechscope.lens.class_lens` for the lens, `mechscope.training.train_vit`):

- `mechscope.vision.grid`: attention maps on the grid, mean attention distance
  (Dosovitskiy et al. 2020), attention rollout (Abnar & Zuidema 2020), object overlap;
- `classify_grid_heads`: local, row, column, [CLS]-sink and object heads;
- `object_attention`: [CLS] and rollout attention on the object against chance, by layer;
- `remove_objects` / `move_objects`: corrupted images for patching, and
  `patch_image_positions`, which patches every (layer, position) through the engine and
  lays the effects out on the grid (`ImagePatching`).

Names are imported on first use.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.vision.grid import (
        attention_map,
        attention_rollout,
        mean_attention_distance,
        object_share,
        query_position,
        uniform_distance,
    )
    from mechscope.vision.kinds import GridHeadKinds, GridKind, classify_grid_heads
    from mechscope.vision.objects import ObjectAttention, object_attention
    from mechscope.vision.patching import (
        ImagePatching,
        move_objects,
        patch_image_positions,
        remove_objects,
    )

_EXPORTS = {
    "attention_map": "mechscope.vision.grid",
    "attention_rollout": "mechscope.vision.grid",
    "classify_grid_heads": "mechscope.vision.kinds",
    "GridHeadKinds": "mechscope.vision.kinds",
    "GridKind": "mechscope.vision.kinds",
    "ImagePatching": "mechscope.vision.patching",
    "mean_attention_distance": "mechscope.vision.grid",
    "move_objects": "mechscope.vision.patching",
    "object_attention": "mechscope.vision.objects",
    "object_share": "mechscope.vision.grid",
    "ObjectAttention": "mechscope.vision.objects",
    "patch_image_positions": "mechscope.vision.patching",
    "query_position": "mechscope.vision.grid",
    "remove_objects": "mechscope.vision.patching",
    "uniform_distance": "mechscope.vision.grid",
}
"""Each public name and the module that defines it (imported on first use)."""
__all__ = [
    "GridHeadKinds",
    "GridKind",
    "ImagePatching",
    "ObjectAttention",
    "attention_map",
    "attention_rollout",
    "classify_grid_heads",
    "mean_attention_distance",
    "move_objects",
    "object_attention",
    "object_share",
    "patch_image_positions",
    "query_position",
    "remove_objects",
    "uniform_distance",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
