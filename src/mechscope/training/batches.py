"""Training and evaluation batches, each a pure function of (config, corpus, step).

Batch ``s`` is drawn from a generator seeded with ``(seed, s)``, so a resumed run sees
exactly the batches an uninterrupted run would have (resume is bit-identical).
"""

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from mechscope.data.byte_tokenizer import BOS_ID
from mechscope.data.repeated import repeated_span_rows
from mechscope.training.config import TrainConfig

N_BYTE_TOKENS = 256
EVAL_SEED = 10_007
ICL_SEED = 20_011


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of batch ``step``: independent of every other step."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def text_windows(
    text: np.ndarray, n_rows: int, n_ctx: int, generator: torch.Generator
) -> Int[Tensor, "batch pos"]:
    """``n_rows`` rows of BOS + ``n_ctx - 1`` consecutive bytes from random offsets."""
    starts = torch.randint(0, len(text) - n_ctx + 2, (n_rows,), generator=generator).tolist()
    windows = np.stack([text[s : s + n_ctx - 1] for s in starts]).astype(np.int64)
    bos = torch.full((n_rows, 1), BOS_ID, dtype=torch.long)
    return torch.cat([bos, torch.from_numpy(windows)], dim=1)


def training_batch(cfg: TrainConfig, text: np.ndarray, step: int) -> Int[Tensor, "batch pos"]:
    """Batch ``step``: corpus windows, then ``repeat_fraction`` rows of repeated spans."""
    generator = step_generator(cfg.seed, step)
    n_repeat = round(cfg.batch_size * cfg.repeat_fraction)
    parts = []
    if cfg.batch_size - n_repeat:
        parts.append(text_windows(text, cfg.batch_size - n_repeat, cfg.n_ctx, generator))
    if n_repeat:
        spans = (cfg.span_min, cfg.span_max)
        parts.append(
            repeated_span_rows(n_repeat, cfg.n_ctx, N_BYTE_TOKENS, BOS_ID, spans, generator)
        )
    return torch.cat(parts)


def eval_text_batch(cfg: TrainConfig, held_out: np.ndarray) -> Int[Tensor, "batch pos"]:
    """Fixed held-out windows (the same at every evaluation)."""
    return text_windows(held_out, cfg.eval_prompts, cfg.n_ctx, step_generator(EVAL_SEED, 0))


def eval_icl_batch(cfg: TrainConfig, held_out: np.ndarray) -> Int[Tensor, "batch pos"]:
    """Fixed held-out windows for the ICL score (``icl_windows`` of them)."""
    return text_windows(held_out, cfg.icl_windows, cfg.n_ctx, step_generator(ICL_SEED, 0))
