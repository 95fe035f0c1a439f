"""Batches: what every analysis runs on, independent of any model.

`Batch` is the protocol analyses take: tensors of inputs with a mask of real positions and
a position grid. `TokenBatch` (token ids, text) is its first implementation; `ImageBatch`
(pixels cut into a grid of square patches, after a [CLS] position) the second.

Padding: ``attention_mask`` is 1 on real tokens and 0 on padding, shaped ``batch pos``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable

import torch
from jaxtyping import Float, Int
from torch import Tensor

from mechscope.core.axes import AttentionMask, TokenIds
from mechscope.core.errors import MechscopeError, PromptError


@runtime_checkable
class Batch(Protocol):
    """Inputs of one forward pass, with which positions are real.

    ``inputs`` is what the model's forward takes; ``attention_mask`` marks real positions
    (1) and padding (0), ``batch pos``; ``grid`` is the shape positions are laid out on
    (``(pos,)`` for text, ``(row, col)`` for image patches).
    """

    @property
    def inputs(self) -> Tensor:
        """What the model's forward pass takes."""
        ...

    attention_mask: Int[Tensor, "batch pos"]

    @property
    def grid(self) -> tuple[int, ...]:
        """The layout of positions: 1-D for text, 2-D for image patches."""
        ...

    def to(self, device: torch.device | str) -> "Batch":
        """The same batch on another device."""
        ...


class PaddingSide(Enum):
    """Where padding goes when prompts of different lengths share a batch."""

    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True)
class TokenBatch:
    """Token ids with their padding mask (1 = real token, 0 = padding)."""

    tokens: TokenIds
    """Token ids; padding positions hold the pad id."""
    attention_mask: AttentionMask
    """1 on real tokens, 0 on padding."""
    padding_side: PaddingSide = PaddingSide.RIGHT
    """Which side the padding is on."""

    def __post_init__(self) -> None:
        if self.tokens.shape != self.attention_mask.shape:
            raise ValueError(
                f"tokens {tuple(self.tokens.shape)} and attention_mask "
                f"{tuple(self.attention_mask.shape)} differ in shape"
            )
        if ((self.attention_mask != 0) & (self.attention_mask != 1)).any():
            raise ValueError("attention_mask must hold only 0 and 1")

    @classmethod
    def full(cls, tokens: TokenIds) -> "TokenBatch":
        """Rows of equal length with no padding (every position real)."""
        return cls(tokens, torch.ones_like(tokens))

    @property
    def lengths(self) -> Int[Tensor, " batch"]:
        """Number of real tokens in each prompt."""
        return self.attention_mask.sum(dim=-1)

    def to(self, device: torch.device | str) -> "TokenBatch":
        """The same batch on another device."""
        return TokenBatch(self.tokens.to(device), self.attention_mask.to(device), self.padding_side)

    @property
    def inputs(self) -> Int[Tensor, "batch pos"]:
        """The token ids (what a language model's forward takes)."""
        return self.tokens

    @property
    def grid(self) -> tuple[int, ...]:
        """Token positions form a line: ``(pos,)``."""
        return (self.tokens.shape[1],)

    def unpadded(self, index: int) -> Int[Tensor, " pos"]:
        """The real tokens of prompt ``index``, padding removed."""
        return self.tokens[index][self.attention_mask[index].bool()]


class ImageError(MechscopeError):
    """Images that do not fit the model or the patch grid."""


@dataclass(frozen=True)
class ImageBatch:
    """Images cut into square patches: position 0 is [CLS], then the patches row by row.

    Patch ``(row, col)`` sits at position ``1 + row * n_cols + col``; every position is
    real (images are never padded), so ``attention_mask`` is all ones.
    """

    pixels: Tensor
    """Pixel values, ``batch channel height width`` (checked here, with an error that says
    what to do, rather than by the annotation)."""
    patch_size: int
    """Side of each square patch, in pixels; it divides the height and the width."""

    def __post_init__(self) -> None:
        if self.pixels.ndim != 4:
            raise ImageError(
                f"images must be shaped (batch, channel, height, width), got "
                f"{tuple(self.pixels.shape)}; add the missing axes (e.g. pixels[:, None] for "
                "one channel)."
            )
        height, width = self.pixels.shape[-2:]
        if self.patch_size < 1 or height % self.patch_size or width % self.patch_size:
            raise ImageError(
                f"patch size {self.patch_size} does not divide the {height}x{width} image; "
                "choose a patch size that divides both sides."
            )

    @property
    def inputs(self) -> Float[Tensor, "batch channel height width"]:
        """The pixels (what a ViT's forward takes)."""
        return self.pixels

    @property
    def grid(self) -> tuple[int, int]:
        """Patches per column and per row: ``(n_rows, n_cols)``."""
        height, width = self.pixels.shape[-2:]
        return height // self.patch_size, width // self.patch_size

    @property
    def n_positions(self) -> int:
        """[CLS] plus one position per patch."""
        rows, cols = self.grid
        return 1 + rows * cols

    @property
    def attention_mask(self) -> Int[Tensor, "batch pos"]:
        """All ones: every position of an image is real."""
        return torch.ones(
            (self.pixels.shape[0], self.n_positions), dtype=torch.long, device=self.pixels.device
        )

    def to(self, device: torch.device | str) -> "ImageBatch":
        """The same batch on another device."""
        return ImageBatch(self.pixels.to(device), self.patch_size)

    def position_labels(self) -> list[str]:
        """A label per position: ``[CLS]``, then ``row,col`` of each patch."""
        rows, cols = self.grid
        return ["[CLS]", *(f"{row},{col}" for row in range(rows) for col in range(cols))]

    def position(self, row: int, col: int) -> int:
        """The sequence position of patch ``(row, col)``.

        Raises:
            ImageError: a grid position outside the grid.
        """
        rows, cols = self.grid
        return patch_position((row, col), (rows, cols))


def patch_position(cell: tuple[int, int], grid: tuple[int, int]) -> int:
    """The sequence position of patch ``cell = (row, col)`` on ``grid`` ([CLS] is 0).

    Raises:
        ImageError: a cell outside the grid.
    """
    (row, col), (rows, cols) = cell, grid
    if not (0 <= row < rows and 0 <= col < cols):
        raise ImageError(
            f"grid position ({row}, {col}) is outside the {rows}x{cols} patch grid; rows run "
            f"0..{rows - 1} and columns 0..{cols - 1}."
        )
    return 1 + row * cols + col


def first_real_positions(attention_mask: Tensor) -> Int[Tensor, " batch"]:
    """Each prompt's first real position, whichever side the padding is on."""
    return attention_mask.bool().int().argmax(-1)


def last_real_positions(attention_mask: Tensor) -> Int[Tensor, " batch"]:
    """Each prompt's last real position, whichever side the padding is on."""
    width = attention_mask.shape[-1]
    return width - 1 - attention_mask.bool().flip(-1).int().argmax(-1)


def pad_token_lists(
    token_lists: Sequence[Sequence[int]],
    pad_id: int,
    padding_side: PaddingSide = PaddingSide.RIGHT,
) -> TokenBatch:
    """Stack token-id lists of different lengths into one padded batch.

    Raises:
        PromptError: no prompts, or an empty prompt.
    """
    if not token_lists:
        raise PromptError("no prompts given; pass at least one prompt.")
    if empty := [i for i, ids in enumerate(token_lists) if len(ids) == 0]:
        raise PromptError(f"prompts {empty} tokenise to nothing; remove them or add text.")
    width = max(len(ids) for ids in token_lists)
    tokens = torch.full((len(token_lists), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(token_lists), width), dtype=torch.long)
    for row, ids in enumerate(token_lists):
        span = (
            slice(0, len(ids))
            if padding_side is PaddingSide.RIGHT
            else slice(width - len(ids), None)
        )
        tokens[row, span] = torch.as_tensor(list(ids), dtype=torch.long)
        mask[row, span] = 1
    return TokenBatch(tokens, mask, padding_side)


def budget_chunks(
    lengths: Sequence[int],
    max_rows: int,
    bytes_per_row: Callable[[int], int],
    budget_bytes: int | None,
) -> list[list[int]]:
    """Row indices grouped into chunks by length, each chunk's memory under a budget.

    Rows are taken shortest first, so a chunk pads its rows to nearly their own length and
    no short row is padded to a long one. A chunk grows while it has fewer than
    ``max_rows`` rows and ``rows x bytes_per_row(longest)`` stays within ``budget_bytes``
    (``None``: no budget); a row over the budget on its own runs alone. Peak memory is then
    bounded by the budget whatever the number of rows.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    chunks: list[list[int]] = []
    for index in order:
        chunk = chunks[-1] if chunks else None
        if (
            chunk is not None
            and len(chunk) < max_rows
            and (
                budget_bytes is None
                or (len(chunk) + 1) * bytes_per_row(lengths[index]) <= budget_bytes
            )
        ):
            chunk.append(index)
        else:
            chunks.append([index])
    return chunks
