"""The class lens: what the classification head reads from [CLS] after each block.

The logit lens (nostalgebraist 2020) for a classifier, through the same machinery: the stream at
every boundary (`mechscope.models.run.boundary_stream`, one pass) read out as the model reads its
output (`mechscope.models.run.readout`: for a ViT, [CLS] through the final LayerNorm and the class
head). Per boundary: the accuracy (with its binomial standard error) and the mean log-probability of
the true class (with its standard error over images). Boundary ``n_layers`` is the model's own
prediction.
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.results import Provenance, Result
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_stream, readout


@dataclass(frozen=True)
class ClassLens(Result):
    """Per image and boundary: whether the lens's class is right, the true class's log-prob."""

    kind: ClassVar[str] = "class-lens"
    correct: Float[Tensor, "image boundary"]
    true_logprob: Float[Tensor, "image boundary"]

    def _validate(self) -> None:
        if self.correct.shape != self.true_logprob.shape:
            raise ValueError("correct and true_logprob disagree in shape")

    def summary(self) -> list[dict[str, Any]]:
        """Per boundary: accuracy and mean true-class log-prob, with standard errors."""
        n = self.correct.shape[0]
        accuracy = self.correct.mean(0)
        logprob = self.true_logprob.mean(0)
        logprob_se = self.true_logprob.std(0) / n**0.5
        return [{"boundary": b, "accuracy": float(accuracy[b]),
                 "accuracy_se": float((accuracy[b] * (1 - accuracy[b]) / n) ** 0.5),
                 "true_logprob": float(logprob[b]), "true_logprob_se": float(logprob_se[b])}
                for b in range(self.correct.shape[1])]  # fmt: skip

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """`summary` as a table."""
        import pandas as pd

        return pd.DataFrame(self.summary())


@torch.no_grad()
def class_lens(
    model: Model,
    pixels: Float[Tensor, "image channel height width"],
    labels: Int[Tensor, " image"],
    *,
    batch_size: int = 256,
) -> ClassLens:
    """The class lens over ``pixels`` (module docstring).

    Raises:
        MechscopeError: a text model. ImageError: images the model does not take.
    """
    vit = adapt(model).vision("the class lens")
    correct, logprob = [], []
    for start in range(0, pixels.shape[0], batch_size):
        chunk = vit.image_batch(pixels[start : start + batch_size])
        truth = labels[start : start + batch_size].to(chunk.pixels.device)
        stream = boundary_stream(vit, chunk)
        logits = torch.stack([readout(vit, resid) for resid in stream], dim=1)  # b boundary c
        logp = logits.log_softmax(-1)
        correct.append((logits.argmax(-1) == truth[:, None]).float().cpu())
        logprob.append(
            logp.gather(-1, truth[:, None, None].expand(-1, logp.shape[1], 1))[..., 0].cpu()
        )
    return ClassLens(torch.cat(correct), torch.cat(logprob),
                     provenance=Provenance(model=model_spec(model)))  # fmt: skip
