"""The axis glossary: the names every tensor in mechscope uses for its axes.

Written down before any code (as penzai does) so that shapes read the same in every module,
in jaxtyping annotations, einops patterns and result dataclasses alike.

| axis       | meaning                                                                  |
|------------|--------------------------------------------------------------------------|
| `batch`    | prompts run together in one forward pass                                 |
| `prompt`   | prompts of a whole data set (a result's first axis, batches concatenated)|
| `pos`      | token position                                                           |
| `dest_pos`, `src_pos` | the position attending (query), the position attended to (key) |
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
| `sample`   | independent draws whose mean and standard error are reported             |
| `window`   | one held-out text window (the windows of an estimate, one per row)       |
| `component`| a part of the residual stream (embeddings, a head, an MLP, a bias) in DLA |
| `later_layer`, `later_head` | the receiving head of a composition score               |
| `metric`   | a metric of a structural-probe result (UUAS, DSpr., ...)                 |
| `lens`     | a lens (logit, least squares, tuned) in lens comparisons                 |
| `fact`     | a factual prompt of `mechscope.data.FACTS`                               |
| `unit`     | a pooled unit of collected activations (a token, a word or a sentence)   |
| `member`   | the tokens pooled into one unit                                          |
| `word`     | a word of a CoNLL-U sentence                                             |
| `klass`    | a probe's output class (`class` is a Python keyword)                     |
| `point`    | a projected unit in a 2-D projection                                     |
| `row`, `col` | a patch's row and column on a ViT's grid; of a matrix elsewhere        |
| `column`   | a column of a similarity matrix (its `row`s and `column`s are layers)    |
| `rows`, `cols` | a matrix whose rank is measured; `rows`: a patching chunk's rows |
| `patch`    | an image patch of a ViT (position 1 + row x cols + col; 0 is [CLS])      |
| `image`    | an image of an image set                                                 |
| `channel`, `height`, `width` | an image's colour channel and pixel grid                |
| `panel`    | one small multiple of a figure                                           |
| `example`  | an image shown in a report                                               |
| `version`  | an image as given and with its object moved                              |
| `run`, `seed`, `eval`, `step` | a recipe (or a way to run a model), its seed, an eval, a step |
| `bin`      | a histogram bin                                                          |
| `k`        | the top-k entries (predictions, singular values)                         |
| `pair`     | a (query, key) pair of positions scored by a head kind                   |
| `answers`  | the answer token of each prompt (or each prompt and position)            |
| `n_ids`    | token ids drawn from a vocabulary                                        |
| `pos_minus_1` | the predicted positions of a sequence (every position but the first)  |
| `lead`     | any leading axes (``*lead``)                                             |
| `n`, `m`, `a`, `b`, `d` | similarity maths: `n`, `m` rows; `a`, `b`, `d` widths   |
| `train`    | the training units of a probe                                            |
| `template` | a prompt template (the replicates of a templated task, e.g. IOI's six)     |
| `half`     | the predictions of a repeated span's second copy (r_2..r_n)                |
| `feature`  | a dictionary feature (latent) of a sparse autoencoder or transcoder         |
| `d_in`     | the width of the activations an SAE reads (its site's width)                |
| `token`    | one token's activation, flattened over windows and positions                |
| `neighbour`| the nearest other features of a feature (by decoder cosine similarity)      |
| `family`   | a family of annotations features are labelled by (token, UPOS, entity...)  |
| `pair`     | one (token, feature) pair where the feature fires                          |
| `mention`  | an entity mention scored for coreference (one with an earlier antecedent)  |
| `top`      | the features measured exactly, largest first estimated effect first        |
| `target`   | a set of target words heads are scored on (sentiment words, mentions)      |
| `condition`| a state of the model a measure is taken in (intact, a block dropped...)    |
| `measure`  | a number measured on the model (a loss, a probe's accuracy...)             |
| `profile`  | one measurement by depth in one model (the whole-claim run's rows)         |
| `upstream`, `downstream` | a component graph's writers and readers (edge attribution) |
| `edge`     | an edge of a component graph (writer -> reader)                            |
| `node`     | a node of a prompt's attribution graph (embedding, feature, error node)    |
| `size`     | a circuit size (edges kept) measured                                       |
| `replica`  | a copy of the batch run with its own set of edges ablated                  |

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
