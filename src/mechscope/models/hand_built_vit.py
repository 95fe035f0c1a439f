"""A 1-layer ViT whose weights are written by hand: head 0.0 attends to the left neighbour.

The position embeddings write each patch's column and row as angles, ``(cos, sin)`` of
``pi * col / n_cols`` and of ``pi * row / n_rows``, each value once with ``+`` and once with
``-`` so the vector has mean 0 and the same norm everywhere (LayerNorm then only rescales
it by a constant). Head 0's query rotates the column angle back by one column, its key reads
the angles as they are, so the score ``beta * (cos(pi * (c_k - c_q + 1) / n_cols) +
cos(pi * (r_k - r_q) / n_rows))`` peaks only at the left neighbour (same row, one column
left); with ``beta`` large the head puts almost all its weight there. In column 0, which has
no left neighbour, the nearest match is the query itself. Head 0.1 has zero weights
(uniform attention); [CLS], the patch embeddings, the MLP and the head are zero.
"""

import math

import torch

from mechscope.models.vit import HookedViT, ViTConfig

BETA = 400.0
"""Sharpness of the left-neighbour head (the score gap to the next-best key is about 30)."""


@torch.no_grad()
def left_neighbour_vit(side: int = 4, patch_size: int = 2) -> HookedViT:
    """A ViT on ``side x side`` patches whose head 0.0 attends to the left neighbour."""
    cfg = ViTConfig(image_size=side * patch_size, patch_size=patch_size, channels=1,
                    n_classes=2, d_model=8, n_layers=1, n_heads=2, d_mlp=4)  # fmt: skip
    model = HookedViT(cfg)
    for param in model.parameters():
        param.zero_()
    for norm in (model.blocks[0].ln1, model.blocks[0].ln2, model.ln_final):
        norm.w.fill_(1.0)  # pyright: ignore[reportCallIssue, reportAttributeAccessIssue]
    theta, phi = math.pi / side, math.pi / side
    for row in range(side):
        for col in range(side):
            features = torch.tensor([math.cos(theta * col), math.sin(theta * col),
                                     math.cos(phi * row), math.sin(phi * row)])  # fmt: skip
            model.W_pos[1 + row * side + col] = torch.cat([features, -features])
    # LayerNorm leaves x / std with std = sqrt(4 / d_model); the key reads the features back.
    read = torch.zeros(8, 4)
    read[:4] = torch.eye(4) * 0.5
    read[4:] = -torch.eye(4) * 0.5
    read = read * math.sqrt(4 / 8)
    rotate = torch.eye(4)
    cos, sin = math.cos(theta), math.sin(theta)
    rotate[:2, :2] = torch.tensor([[cos, -sin], [sin, cos]])  # x @ rotate: angle - theta
    attn = model.blocks[0].attn
    attn.W_K[0] = read
    attn.W_Q[0] = BETA * read @ rotate * math.sqrt(4)  # undo the 1/sqrt(d_head) scaling
    return model.eval()
