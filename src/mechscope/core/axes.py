"""The axis glossary: the names every tensor in mechscope uses for its axes.

Written down before any code (as penzai does) so that shapes read the same in every module,
in jaxtyping annotations, einops patterns and result dataclasses alike.

| axis       | meaning                                                                  |
|------------|--------------------------------------------------------------------------|
| `batch`    | prompts run together in one forward pass                                 |
| `prompt`   | prompts of a whole data set (a result's first axis, batches concatenated)|
| `pos`      | token position; `dest_pos` attends from (query), `src_pos` attends to    |
| `layer`    | transformer block index, 0-based                                         |
| `head`     | attention head index within a layer, 0-based                             |
| `d_model`  | residual stream width                                                    |
| `d_head`   | per-head query/key/value width                                           |
| `d_mlp`    | MLP hidden width                                                         |
| `d_vocab`  | vocabulary (unembedding) width                                           |
| `kind`     | a head kind (`HeadKind`) in head-classification results                  |
| `site`     | a patched `Site` (component, layer, head, position) in patching results  |
| `group`    | heads ablated together (one head, or a whole layer) in ablation results  |
| `relation` | a dependency relation (UD label) in syntactic-head results               |
| `direction`| dependent->head or head->dependent (`syntax.Direction`)                  |
| `offset`   | a fixed word offset of the positional baseline (-5..5, not 0)            |
| `boundary` | a residual-stream boundary read by the lens (embeddings, after block l)  |
| `windows`  | held-out text windows an estimate (e.g. the ICL score) averages over     |
| `sample`   | independent draws whose mean and standard error are reported             |

Padding: `attention_mask` is 1 on real tokens and 0 on padding, shaped `batch pos`.
"""

from typing import NamedTuple

from jaxtyping import Float, Int
from torch import Tensor

TokenIds = Int[Tensor, "batch pos"]
AttentionMask = Int[Tensor, "batch pos"]
Logits = Float[Tensor, "batch pos d_vocab"]
Residual = Float[Tensor, "batch pos d_model"]
Patterns = Float[Tensor, "batch layer head dest_pos src_pos"]


class HeadId(NamedTuple):
    """One attention head, addressed as (layer, head); printed as ``layer.head``."""

    layer: int
    head: int

    def __str__(self) -> str:
        return f"{self.layer}.{self.head}"

    @classmethod
    def parse(cls, text: str) -> "HeadId":
        """Parse ``"1.4"`` into ``HeadId(layer=1, head=4)``.

        Raises:
            ValueError: if the text is not two non-negative integers joined by a dot.
        """
        parts = text.strip().split(".")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"head {text!r} is not LAYER.HEAD, e.g. '1.4'")
        return cls(int(parts[0]), int(parts[1]))

    def to_json(self) -> str:
        """``"layer.head"``, as results save a head."""
        return str(self)

    @classmethod
    def from_json(cls, value: str | list[int]) -> "HeadId":
        """A head as `to_json` wrote it (or as ``[layer, head]``)."""
        return cls.parse(value) if isinstance(value, str) else cls(*value)
