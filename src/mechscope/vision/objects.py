"""How much of [CLS]'s attention, and of the rollout, falls on the object, layer by layer.

For each image and layer: the share of [CLS]'s attention to the patches that falls on the
object (heads averaged, and per head), and the same share of the attention rollout from
[CLS] up to that layer (`mechscope.vision.grid`); chance is the object's share of the image.
Means come with their standard errors over images.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from mechscope.core.batch import ImageBatch
from mechscope.core.metrics import mean_and_sem
from mechscope.core.results import Provenance, Result
from mechscope.data.images import patch_object_fraction
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import attention_patterns
from mechscope.vision.grid import attention_rollout, chance_share, object_share


@dataclass(frozen=True)
class ObjectAttention(Result):
    """Per image: [CLS]'s and the rollout's share on the object by layer, and chance."""

    kind: ClassVar[str] = "object-attention"
    cls_share: Float[Tensor, "image layer"]
    """[CLS] attention (mean over heads) on the object, as a share of its attention to patches."""
    head_share: Float[Tensor, "image layer head"]
    """The same for each head."""
    rollout_share: Float[Tensor, "image layer"]
    """The rollout from [CLS] up to each layer, on the object."""
    chance: Float[Tensor, " image"]
    """The object's share of the image (uniform attention's share)."""

    def _validate(self) -> None:
        n, layers = self.cls_share.shape
        if (self.rollout_share.shape != (n, layers) or self.head_share.shape[:2] != (n, layers)
                or self.chance.shape != (n,)):  # fmt: skip
            raise ValueError("cls_share, head_share, rollout_share and chance disagree in shape")

    def summary(self) -> list[dict[str, Any]]:
        """Per layer: mean and standard error of each share, chance, and their ratio."""
        chance, chance_se = mean_and_sem(self.chance)
        rows = []
        for layer in range(self.cls_share.shape[1]):
            cls, cls_se = mean_and_sem(self.cls_share[:, layer])
            roll, roll_se = mean_and_sem(self.rollout_share[:, layer])
            rows.append({"layer": layer, "cls_share": cls, "cls_share_se": cls_se,
                         "rollout_share": roll, "rollout_share_se": roll_se,
                         "chance": chance, "chance_se": chance_se,
                         "cls_lift": cls / chance, "rollout_lift": roll / chance})  # fmt: skip
        return rows

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`summary` as a table."""
        import pandas as pd

        return pd.DataFrame(self.summary())


@torch.no_grad()
def object_attention(
    model: Model,
    pixels: Float[Tensor, "image channel height width"],
    masks: Bool[Tensor, "image height width"],
    *,
    batch_size: int = 128,
) -> ObjectAttention:
    """[CLS] and rollout attention on the object (module docstring).

    Raises:
        MechscopeError: a text model. ImageError: images the model does not take.
    """
    vit = adapt(model).vision("object attention")
    cfg = vit.vit_cfg
    parts: dict[str, list[Tensor]] = {"cls": [], "head": [], "roll": [], "chance": []}
    for start in range(0, pixels.shape[0], batch_size):
        chunk = vit.check_images(pixels[start : start + batch_size])
        patterns = attention_patterns(vit, ImageBatch(chunk, cfg.patch_size)).float()
        fraction = patch_object_fraction(masks[start : start + batch_size], cfg.patch_size)
        fraction = fraction.to(patterns.device)
        from_cls = patterns[..., 0, :]  # b l h src
        heads = object_share(from_cls.permute(1, 2, 0, 3), fraction).permute(2, 0, 1)
        mean_heads = object_share(from_cls.mean(2).transpose(0, 1), fraction).T
        rollout = attention_rollout(patterns)[..., 0, :]  # b l src
        rolled = object_share(rollout.transpose(0, 1), fraction).T
        parts["cls"].append(mean_heads.cpu())
        parts["head"].append(heads.cpu())
        parts["roll"].append(rolled.cpu())
        parts["chance"].append(chance_share(fraction).cpu())
    joined = {name: torch.cat(values) for name, values in parts.items()}
    return ObjectAttention(joined["cls"], joined["head"], joined["roll"], joined["chance"],
                           provenance=Provenance(model=model_spec(model)))  # fmt: skip
