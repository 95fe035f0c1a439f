"""Vision transformers: attention on the patch grid, head kinds, rollout, objects, patching.

On a `mechscope.models.vit.HookedViT` (``load_model("vit-digits")``, ``"vit-shapes"``):

- `mechscope.vision.grid`: attention maps on the grid, mean attention distance
  (Dosovitskiy et al. 2020), attention rollout (Abnar & Zuidema 2020), object overlap;
- `classify_grid_heads`: local, row, column, [CLS]-sink and object heads;
- `object_attention`: [CLS] and rollout attention on the object against chance, by layer;
- `class_lens`: the class read from [CLS] after each block;
- `collect_images`: [CLS] (or mean patch) representations as `Activations`, for the probes;
- `patch_image_positions` / `remove_objects`: activation patching of patch positions.

Names are imported on first use.
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.vision.collect import ImageReadout, collect_images
    from mechscope.vision.grid import (
        attention_map,
        attention_rollout,
        mean_attention_distance,
        object_share,
        query_position,
        uniform_distance,
    )
    from mechscope.vision.kinds import GridHeadKinds, GridKind, classify_grid_heads
    from mechscope.vision.lens import ClassLens, class_lens
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
    "class_lens": "mechscope.vision.lens",
    "classify_grid_heads": "mechscope.vision.kinds",
    "ClassLens": "mechscope.vision.lens",
    "collect_images": "mechscope.vision.collect",
    "GridHeadKinds": "mechscope.vision.kinds",
    "GridKind": "mechscope.vision.kinds",
    "ImagePatching": "mechscope.vision.patching",
    "ImageReadout": "mechscope.vision.collect",
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
    "ClassLens",
    "GridHeadKinds",
    "GridKind",
    "ImagePatching",
    "ImageReadout",
    "ObjectAttention",
    "attention_map",
    "attention_rollout",
    "class_lens",
    "classify_grid_heads",
    "collect_images",
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
