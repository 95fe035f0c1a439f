"""The lens readout (final norm + unembedding) against TransformerLens's own Unembed, same run.

TransformerLens 3.9's ``Unembed.forward`` copies ``W_U.T`` into a contiguous matrix on every
call; `mechscope.lens.logit.readout` computes ``x @ W_U + b_U`` instead. A lens calls the
readout once per boundary (31 times for SmolLM2), so the copy is paid 31 times per batch.
Measured on a random model of SmolLM2's width and vocabulary (d_model 576, 49,152 tokens),
reading 31 boundaries of 128 positions, the two interleaved over several rounds.
"""

import statistics
import time

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from mechscope.models.base import quiet_transformer_lens
from mechscope.models.run import readout

ROUNDS = 5


def transformer_lens_readout(model: HookedTransformer, resid: torch.Tensor) -> torch.Tensor:
    return model.unembed(model.ln_final(resid))


def main() -> None:
    config = HookedTransformerConfig(
        n_layers=1, d_model=576, n_heads=9, d_head=64, d_mlp=1536, n_ctx=128, d_vocab=49152,
        act_fn="silu", normalization_type="RMS", device="cpu",
    )  # fmt: skip
    with quiet_transformer_lens():
        model = HookedTransformer(config, move_to_device=False).eval()
    boundaries = torch.randn(31, 128, 576, generator=torch.Generator().manual_seed(0))
    timings: dict[str, list[float]] = {"TransformerLens Unembed": [], "mechscope readout": []}
    with torch.no_grad():
        torch.testing.assert_close(
            readout(model, boundaries[0]), transformer_lens_readout(model, boundaries[0]),
            rtol=1e-4, atol=1e-4,
        )  # fmt: skip
        for _ in range(ROUNDS):  # interleaved: the machine's noise hits both alike
            for name, fn in (("TransformerLens Unembed", transformer_lens_readout),
                             ("mechscope readout", readout)):  # fmt: skip
                start = time.perf_counter()
                for resid in boundaries:
                    fn(model, resid)
                timings[name].append(time.perf_counter() - start)
    tl, ours = timings["TransformerLens Unembed"], timings["mechscope readout"]
    ratios = [a / b for a, b in zip(tl, ours, strict=True)]
    print(f"31 boundaries x 128 positions, vocab 49152: TransformerLens "
          f"{statistics.median(tl):.3f}s, mechscope {statistics.median(ours):.3f}s (medians of "
          f"{ROUNDS}); ratio per round {min(ratios):.2f}-{max(ratios):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
