"""Image representations as `Activations`, so the probes run on a ViT as on text.

One unit per image, read at [CLS] or averaged over the patches, at every boundary (the
embeddings, then after each block); `mechscope.representations.probe_layers` takes them.

Each image is its own unit and its own group (``image i``), so the probes' intervals resample
images and the control task (Hewitt & Liang 2019) gives each image a random label of its own.
"""

from enum import Enum

import torch
from jaxtyping import Float
from torch import Tensor

from mechscope.core.batch import ImageBatch
from mechscope.core.results import Provenance
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_stream
from mechscope.representations.activations import Activations
from mechscope.representations.choices import Pooling


class ImageReadout(Enum):
    """Where an image's representation is read."""

    CLS = "cls"
    """The [CLS] position, which the class head reads."""
    PATCH_MEAN = "patch-mean"
    """The mean over the patch positions."""


@torch.no_grad()
def collect_images(
    model: Model,
    pixels: Float[Tensor, "image channel height width"],
    readout: ImageReadout = ImageReadout.CLS,
    *,
    batch_size: int = 256,
) -> Activations:
    """One unit per image at every boundary (module docstring).

    Raises:
        MechscopeError: a text model. ImageError: images the model does not take.
    """
    vit = adapt(model).vision("collecting image representations")
    parts = []
    for start in range(0, pixels.shape[0], batch_size):
        chunk = vit.check_images(pixels[start : start + batch_size])
        stream = boundary_stream(vit, ImageBatch(chunk, vit.vit_cfg.patch_size))
        read = stream[:, :, 0] if readout is ImageReadout.CLS else stream[:, :, 1:].mean(2)
        parts.append(read.float().cpu())
    n_layers = vit.cfg.n_layers
    return Activations(
        torch.cat(parts, dim=1),
        ("embeddings", *(f"after block {layer}" for layer in range(n_layers))),
        tuple(f"image {i}" for i in range(pixels.shape[0])),
        torch.arange(pixels.shape[0]),
        (),
        Pooling.SENTENCE_CLS if readout is ImageReadout.CLS else Pooling.SENTENCE_MEAN,
        provenance=Provenance(model=model_spec(model)),
    )
