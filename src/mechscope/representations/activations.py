"""Collect hidden states pooled to tokens, words or sentences, layer by layer.

`collect` runs the model once per batch with hooks on the sites it reads (by default the
residual stream at every boundary: ``0`` = the embeddings, ``l`` = after block ``l``, the
numbering of Tenney et al. and Hewitt & Manning) and pools each activation as soon as it is
produced, and ends the pass once every site has been read (no unembedding), so memory holds
one batch's activations plus the pooled output. The output lives
in memory or, with ``store=DIR``, in a memory-mapped ``values.npy`` there (bounded memory for
a whole treebank); `Activations.layer` reads one boundary at a time either way.

Pooling (`Pooling`):
- ``token``: every real token (special tokens included);
- ``word-mean`` / ``word-first`` / ``word-last``: a word's sub-tokens (the alignment of
  `mechscope.heads.syntax.align`: the words joined by single spaces, tokenised with offsets);
- ``sentence-mean`` (the sentence's own tokens: special tokens left out), ``sentence-last``
  (the last real token), ``sentence-cls`` (the first: [CLS] of an encoder).

Images (an `ImageBatch`, on a ViT) run through the same loop, one unit per image:
``sentence-cls`` reads [CLS], ``sentence-mean`` averages the patches ([CLS] left out); each
image is its own unit and its own group (``image i``), so the probes' intervals resample
images and the control task (Hewitt & Liang 2019) gives each image a random label of its own.

Sentences are batched sorted by length, so padding costs little; rows are written back in
the input order. Sentences that cannot be aligned (no tokens of their own for a word, longer
than the context, a malformed tree) are skipped and counted in ``skipped``.
"""

import dataclasses
import mmap
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.hook_points import HookPoint

from mechscope.core.batch import ImageBatch, TokenBatch, pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result
from mechscope.core.sites import Site
from mechscope.data.conllu import Sentence
from mechscope.heads.syntax import align
from mechscope.models.adapter import adapt, model_spec
from mechscope.models.base import Model
from mechscope.models.run import boundary_labels, target_hook
from mechscope.models.tokens import pad_id, str_tokens, token_lists_of
from mechscope.representations.choices import Pooling

VALUES_FILE = "values.npy"
RELEASE_EVERY = 32
"""Chunks between flushes of an on-disk store (its written pages then leave memory)."""


@dataclass(frozen=True)
class Activations(Result):
    """Pooled hidden states: ``values[boundary, unit]`` with what each unit is.

    ``group`` is each unit's sentence (prompt) index among the kept ``sentences``, so splits
    and confidence intervals go by sentence, never by token.
    """

    kind: ClassVar[str] = "activations"
    values: Float[Tensor, "boundary unit d_model"]
    boundaries: tuple[str, ...]
    units: tuple[str, ...]
    """Each unit's text: the word, the token, or the sentence."""
    group: Int[Tensor, " unit"]
    sentences: tuple[Sentence, ...]
    """The sentences (prompts) kept, in input order (a prompt is a Sentence of its words)."""
    pooling: Pooling
    skipped: dict[str, int] = field(default_factory=dict)
    store: str = ""
    """The memory-mapped ``values.npy`` the values live in ('' when in memory)."""

    def _validate(self) -> None:
        n_boundaries, n_units = self.values.shape[:2]
        if n_boundaries != len(self.boundaries) or n_units != len(self.units):
            raise ValueError("values must be [boundary, unit, d]: boundaries/units do not match")
        if self.group.shape != (n_units,):
            raise ValueError("group needs one sentence index per unit")

    @property
    def n_boundaries(self) -> int:
        """How many sites (boundaries) were collected."""
        return len(self.boundaries)

    def layer(self, boundary: int) -> Float[Tensor, "unit d_model"]:
        """One boundary's units as float32 (read from disk when the values are stored there).

        Raises:
            MechscopeError: ``boundary`` is out of range.
        """
        if not -self.n_boundaries <= boundary < self.n_boundaries:
            raise MechscopeError(
                f"boundary {boundary} is out of range: these activations have "
                f"{self.n_boundaries} (0..{self.n_boundaries - 1})."
            )
        return self.values[boundary].float().clone()

    def context(self) -> list[str]:
        """Each unit's sentence text (the hover text of projections)."""
        texts = [" ".join(s.words) for s in self.sentences]
        return [texts[g] for g in self.group.tolist()]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per unit: its text and sentence (the values stay in ``values``)."""
        import pandas as pd

        return pd.DataFrame({"unit": list(self.units), "sentence": self.group.tolist()})

    def save(self, directory: str | Path) -> Path:
        """`Result.save`, plus the values as ``values.npy`` (memory-mapped when loaded)."""
        directory = Path(directory)
        out = super().save(directory)
        target = directory / VALUES_FILE
        if not (self.store and Path(self.store).resolve() == target.resolve()):
            np.save(target, self.values.numpy())
        return out

    def _after_load(self, directory: Path) -> "Activations":
        values = torch.from_numpy(np.load(directory / VALUES_FILE, mmap_mode="c"))
        return dataclasses.replace(self, values=values, store=str(directory / VALUES_FILE))

    def _tensors(self) -> dict[str, Tensor]:
        return {"group": self.group}

    def _data(self) -> dict[str, Any]:
        return {
            "shape": list(self.values.shape),
            "boundaries": list(self.boundaries),
            "units": list(self.units),
            "pooling": self.pooling.value,
            "skipped": self.skipped,
            "sentences": [
                [list(s.words), list(s.heads), list(s.relations), list(s.upos), s.sent_id]
                for s in self.sentences
            ],
        }

    @classmethod
    def _from_saved(cls, tensors: dict[str, Tensor], data: dict[str, Any]) -> "Activations":
        sentences = tuple(
            Sentence(tuple(w), tuple(h), tuple(r), tuple(u), sent_id)
            for w, h, r, u, sent_id in data["sentences"]
        )
        # The values are memory-mapped from values.npy by `_after_load`.
        placeholder = torch.zeros(()).expand(*data["shape"])
        return cls(
            placeholder,
            tuple(data["boundaries"]),
            tuple(data["units"]),
            tensors["group"],
            sentences,
            Pooling(data["pooling"]),
            dict(data["skipped"]),
        )


@dataclass(frozen=True)
class _Row:
    """One sentence to run: its tokens and, per unit, the token positions pooled into it."""

    sentence: Sentence
    tokens: tuple[int, ...]
    members: tuple[tuple[int, ...], ...]
    names: tuple[str, ...]


def _rows(
    model: Model, inputs: Sequence[Sentence] | Sequence[str], pooling: Pooling
) -> tuple[list[_Row], Counter[str]]:
    """The rows to run for ``inputs`` and why the others were skipped."""
    sentences = [
        s if isinstance(s, Sentence) else Sentence(tuple(s.split()), (-1,) * len(s.split()), ())
        for s in inputs
    ]
    rows: list[_Row] = []
    skipped: Counter[str] = Counter()
    needs_alignment = pooling.words or any(isinstance(s, Sentence) for s in inputs)
    for sentence, given in zip(sentences, inputs, strict=True):
        if (
            needs_alignment
            and model.tokenizer is not None
            and getattr(model.tokenizer, "is_fast", False)
        ):
            aligned = align(model, sentence)
            if isinstance(aligned, str):
                skipped[aligned] += 1
                continue
            tokens, word_of = aligned.tokens, aligned.word_of_token
        elif pooling.words:
            raise MechscopeError(
                "word pooling needs a model with a fast (Hugging Face) tokenizer to align "
                "words and tokens; use --pooling token or a sentence pooling."
            )
        else:
            text = given if isinstance(given, str) else " ".join(sentence.words)
            if not text.strip():
                skipped["no words"] += 1
                continue
            tokens = tuple(token_lists_of(model, [text])[0])
            if len(tokens) > model.cfg.n_ctx:
                skipped[f"longer than the model's context of {model.cfg.n_ctx} tokens"] += 1
                continue
            special = _special_ids(model)
            word_of = tuple(-1 if t in special else 0 for t in tokens)
        rows.append(_row(model, sentence, tokens, word_of, pooling))
    return rows, skipped


def _token_batches(model: Model, rows: Sequence[_Row]) -> Callable[[list[int]], TokenBatch]:
    """The padded batch of the rows with these indices."""
    pad = pad_id(model)
    return lambda chosen: pad_token_lists([list(rows[i].tokens) for i in chosen], pad)


def _image_rows(
    model: Model, images: ImageBatch, pooling: Pooling
) -> tuple[list[_Row], Counter[str], Callable[[list[int]], ImageBatch]]:
    """One row per image, pooled at [CLS] or over the patches, and the batch of some rows.

    Raises:
        MechscopeError: a text model, an empty batch, or a pooling images do not have.
    """
    vit = adapt(model).vision("collecting image representations")
    batch = vit.image_batch(images)
    if batch.pixels.shape[0] == 0:
        raise MechscopeError("no images given; pass at least one image.")
    members = {Pooling.SENTENCE_CLS: (0,),
               Pooling.SENTENCE_MEAN: tuple(range(1, batch.n_positions))}.get(pooling)  # fmt: skip
    if members is None:
        raise MechscopeError(
            f"images pool as sentence-cls ([CLS]) or sentence-mean (the patches), not "
            f"{pooling.value}."
        )
    names = [f"image {i}" for i in range(batch.pixels.shape[0])]
    rows = [_Row(Sentence((name,), (-1,), ()), (), (members,), (name,)) for name in names]
    return rows, Counter(), lambda chosen: ImageBatch(batch.pixels[chosen], batch.patch_size)


def _special_ids(model: Model) -> set[int]:
    """Ids of special tokens ([CLS], [SEP], BOS, ...), left out of sentence means."""
    tokenizer = model.tokenizer
    return set(getattr(tokenizer, "all_special_ids", []) or [])


def _row(
    model: Model,
    sentence: Sentence,
    tokens: tuple[int, ...],
    word_of: tuple[int, ...],
    pooling: Pooling,
) -> _Row:
    n = len(tokens)
    if pooling is Pooling.TOKEN:
        return _Row(sentence, tokens, tuple((t,) for t in range(n)),
                    tuple(str_tokens(model, list(tokens))))  # fmt: skip
    if pooling.sentences:
        text = " ".join(sentence.words)
        own = tuple(t for t, word in enumerate(word_of) if word >= 0) or tuple(range(n))
        members = {Pooling.SENTENCE_MEAN: own, Pooling.SENTENCE_LAST: (n - 1,),
                   Pooling.SENTENCE_CLS: (0,)}[pooling]  # fmt: skip
        return _Row(sentence, tokens, (members,), (text,))
    positions: list[list[int]] = [[] for _ in sentence.words]
    for t, word in enumerate(word_of):
        if word >= 0:
            positions[word].append(t)
    pick = {Pooling.WORD_FIRST: lambda p: p[:1], Pooling.WORD_LAST: lambda p: p[-1:]}
    chosen = [pick.get(pooling, lambda p: p)(p) for p in positions]
    return _Row(sentence, tokens, tuple(tuple(p) for p in chosen), sentence.words)


def _hook_names(
    model: Model, sites: Sequence[Site] | None, boundaries: Sequence[int] | None
) -> tuple[list[str], tuple[str, ...]]:
    """Hook names and labels of the sites read (default: every residual boundary)."""
    n_layers = model.cfg.n_layers
    if sites is not None and boundaries is not None:
        raise MechscopeError("give sites or boundaries, not both.")
    if sites is None:
        chosen = list(range(n_layers + 1)) if boundaries is None else list(boundaries)
        if bad := [b for b in chosen if not 0 <= b <= n_layers]:
            raise MechscopeError(
                f"boundary {bad[0]} is out of range: the model has boundaries 0..{n_layers} "
                "(0 = embeddings)."
            )
        labels = boundary_labels(n_layers)
        return [target_hook(model, b) for b in chosen], tuple(labels[b] for b in chosen)
    names = []
    for site in sites:
        if site.head is not None or site.pos is not None:
            raise MechscopeError(
                f"collect reads whole activations; drop the head/position of site {site}."
            )
        if site.layer is not None and not 0 <= site.layer < n_layers:
            raise MechscopeError(
                f"site {site} is out of range: the model has layers 0..{n_layers - 1}."
            )
        if site.hook_name not in model.hook_dict:
            raise MechscopeError(f"the model has no hook point {site.hook_name} (site {site}).")
        names.append(site.hook_name)
    return names, tuple(str(site) for site in sites)


def _pooling_maps(
    rows: Sequence[_Row], width: int
) -> tuple[Int[Tensor, " member"], Int[Tensor, " member"], Float[Tensor, " member"]]:
    """For each pooled member token: its flat position, its unit (in batch order), weight."""
    flat, unit, weight = [], [], []
    u = 0
    for b, row in enumerate(rows):
        for members in row.members:
            for t in members:
                flat.append(b * width + t)
                unit.append(u)
                weight.append(1.0 / len(members))
            u += 1
    as_long = lambda x: torch.tensor(x, dtype=torch.long)  # noqa: E731
    return as_long(flat), as_long(unit), torch.tensor(weight)


class _Store:
    """The output array, allocated when the first activation shows its width."""

    def __init__(self, n_sites: int, n_units: int, dtype: torch.dtype, path: Path | None) -> None:
        self.shape = (n_sites, n_units)
        self.dtype, self.path = dtype, path
        self.values: Tensor | None = None
        self.array: Any = None  # np.memmap when stored on disk
        self.chunks = 0

    def write(self, rows: Tensor, pooled: dict[int, Tensor]) -> None:
        """One chunk's pooled units of every site (one copy to the host per chunk)."""
        widths = {t.shape[-1] for t in pooled.values()}
        if len(widths) > 1 or (self.values is not None and widths != {self.values.shape[-1]}):
            raise MechscopeError(
                f"the sites collected together must have one width; got {sorted(widths)}. "
                "Collect sites of different widths separately."
            )
        block = torch.stack([pooled[i] for i in sorted(pooled)]).to("cpu", self.dtype)
        if self.values is None:
            shape = (*self.shape, block.shape[-1])
            if self.path is not None:
                try:
                    self.path.mkdir(parents=True, exist_ok=True)
                    numpy_dtype = np.dtype(str(self.dtype).removeprefix("torch."))
                    self.array = np.lib.format.open_memmap(
                        self.path / VALUES_FILE, mode="w+", dtype=numpy_dtype, shape=shape
                    )
                except OSError as error:
                    raise MechscopeError(f"cannot write the activation store in {self.path}: "
                                         f"{error.strerror or error}.") from error  # fmt: skip
                self.values = torch.from_numpy(self.array)
            else:
                self.values = torch.empty(shape, dtype=self.dtype)
        self.values[:, rows] = block
        self.chunks += 1
        if self.array is not None and self.chunks % RELEASE_EVERY == 0:
            self.release()

    def release(self) -> None:
        """Write the stored pages out and drop them from memory (they are read back on use)."""
        self.array.flush()
        mapping = getattr(self.array, "_mmap", None)
        if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
            mapping.madvise(mmap.MADV_DONTNEED)


@torch.no_grad()
def collect(
    model: Model,
    inputs: Sequence[Sentence] | Sequence[str] | ImageBatch,
    *,
    pooling: Pooling | None = None,
    sites: Sequence[Site] | None = None,
    boundaries: Sequence[int] | None = None,
    batch_size: int = 32,
    store: str | Path | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = True,
    desc: str = "collect",
) -> Activations:
    """Pooled activations of ``inputs`` (CoNLL-U sentences, prompts or images) at ``sites``.

    ``pooling``: default ``word-mean`` for text, ``sentence-cls`` ([CLS]) for images. ``sites``:
    default, the residual stream at every boundary (embeddings and after each block); sites
    collected together must share one width (per-head sites are flattened to heads x d_head).
    ``boundaries``: only these residual boundaries (0 = embeddings).
    ``store``: a directory to write the values to as a memory-mapped
    ``values.npy`` (the returned activations read from it; `Activations.save` to the same
    directory then adds only ``result.json``). ``dtype``: float16 halves the values.

    Raises:
        MechscopeError: no inputs, none usable, a bad site, ``sentence-cls`` on a decoder,
            word pooling without a fast tokenizer, or images for a text model (or text for a
            ViT). ImageError: images the model does not take.
    """
    if batch_size < 1:
        raise MechscopeError(f"batch size must be at least 1, got {batch_size}.")
    if isinstance(inputs, ImageBatch):
        pooling = Pooling.SENTENCE_CLS if pooling is None else pooling
        rows, skipped, make_batch = _image_rows(model, inputs, pooling)
    else:
        pooling = Pooling.WORD_MEAN if pooling is None else pooling
        if not inputs:
            raise MechscopeError("no sentences given; pass a CoNLL-U file or prompts.")
        if adapt(model).takes_images:
            raise MechscopeError(
                "this is a vision transformer; collect images from it (an ImageBatch: "
                "model.image_batch(pixels)), not text."
            )
        if pooling is Pooling.SENTENCE_CLS and adapt(model).causal:
            raise MechscopeError(
                "sentence-cls pools the first token, [CLS] on an encoder; a decoder's first "
                "token sees nothing else. Use sentence-mean or sentence-last."
            )
        rows, skipped = _rows(model, inputs, pooling)
        make_batch = _token_batches(model, rows)
    names, labels = _hook_names(model, sites, boundaries)
    if not rows:
        reasons = "; ".join(f"{n} x {why}" for why, n in skipped.items())
        raise MechscopeError(f"none of the {len(rows) + sum(skipped.values())} inputs could "
                             f"be used ({reasons}).")  # fmt: skip
    starts = np.cumsum([0] + [len(r.members) for r in rows])
    out = _Store(len(names), int(starts[-1]), dtype, None if store is None else Path(store))
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].tokens))
    device = model.cfg.device or "cpu"
    for first in tqdm(range(0, len(order), batch_size), desc=desc, disable=not progress):
        chosen = order[first : first + batch_size]
        chunk = [rows[i] for i in chosen]
        batch = make_batch(chosen).to(device)
        maps = [m.to(device) for m in _pooling_maps(chunk, batch.attention_mask.shape[1])]
        destination = torch.cat([torch.arange(int(starts[i]), int(starts[i + 1])) for i in chosen])
        pooled: dict[int, Tensor] = {}
        hooks = [(name, _pooler(index, maps, len(destination), pooled, len(names)))
                 for index, name in enumerate(names)]  # fmt: skip
        # The pass ends once every site has been read: no unembedding (an encoder's MLM head
        # and a decoder's vocabulary cost as much as several blocks), whatever the sites.
        try:
            with model.hooks(fwd_hooks=hooks):  # pyright: ignore[reportArgumentType]
                model(batch.inputs, return_type=None, **adapt(model).forward_kwargs(batch))
        except _AllRead:
            pass
        if len(pooled) < len(names):  # a hook point this model's forward never reaches
            silent = [names[i] for i in range(len(names)) if i not in pooled]
            raise MechscopeError(
                f"hook point {silent[0]} never ran in this model's forward pass (it is "
                "disabled in this configuration); collect another site."
            )
        out.write(destination, pooled)
    assert out.values is not None
    if out.array is not None:
        out.release()
    return Activations(
        out.values,
        labels,
        tuple(name for row in rows for name in row.names),
        torch.cat(
            [torch.full((len(r.members),), i, dtype=torch.long) for i, r in enumerate(rows)]
        ),  # fmt: skip
        tuple(r.sentence for r in rows),
        pooling,
        dict(skipped),
        "" if store is None else str(Path(store) / VALUES_FILE),
        provenance=Provenance(model=model_spec(model)),
    )


class _AllRead(Exception):  # noqa: N818 - raised and caught in `collect` only
    """Ends a pass once every site has been read."""


def _pooler(index: int, maps: list[Tensor], n_units: int, pooled: dict[int, Tensor], n: int):  # noqa: ANN202
    """A hook pooling one site's activation of a chunk into ``pooled[index]`` (on its device).

    It raises `_AllRead` once all ``n`` sites of the pass have been read.
    """
    flat, unit, weight = maps

    def hook(act: Tensor, hook: HookPoint) -> None:  # noqa: ARG001
        act = act.flatten(2) if act.dim() > 3 else act  # a head axis joins the features
        members = act.reshape(-1, act.shape[-1])[flat].float() * weight[:, None]
        units = torch.zeros(n_units, act.shape[-1], device=act.device)
        pooled[index] = units.index_add_(0, unit, members)
        if len(pooled) == n:
            raise _AllRead

    return hook
