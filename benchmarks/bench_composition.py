"""K-composition scores between every pair of heads against two baselines in the same run.

- "per pair (before)": TransformerLens's ``composition_scores`` one earlier layer at a time
  (every later layer's factored matrices decomposed by SVD again for each earlier layer), as
  mechscope computed them before issue 32;
- "cached SVD": a competent variant that collapses each head's factored matrix once
  (TransformerLens's ``collapse_l`` / ``collapse_r``, one SVD per head) and multiplies the
  cached factors layer against later layers;
- mechscope: QR factors once per head (`mechscope.circuits.composition`), one matmul per
  earlier layer.

Values checked against the cached variant (max |diff|). Target (issue 32): mechscope at least
as fast as the cached variant. Models: the GPT-2 shape (random, 144 heads, LayerNorm folded);
``--full`` adds SmolLM2 (270 heads, grouped-query attention; the per-pair baseline there takes
about 25 s a round).
"""

import torch
from transformer_lens.FactoredMatrix import FactoredMatrix
from transformer_lens.utilities.matrix import composition_scores as tl_scores

from benchmarks.common import GPT2_SHAPE, header, interleaved, load_with_tokenizer, options, ratio
from benchmarks.common import seconds as median_seconds
from mechscope.circuits.composition import CompositionKind, composition_scores, folded

MODELS = {"gpt2-shape": GPT2_SHAPE, "smollm2": "smollm2-135m"}


def per_pair(decoder) -> torch.Tensor:  # noqa: ANN001
    n_layers, n_heads = decoder.cfg.n_layers, decoder.cfg.n_heads
    scores = torch.zeros(n_layers, n_heads, n_layers, n_heads)
    ov, qk = decoder.OV, decoder.QK.T
    for layer in range(n_layers - 1):
        left = FactoredMatrix(ov.A[layer], ov.B[layer])
        right = FactoredMatrix(qk.A[layer + 1 :], qk.B[layer + 1 :])
        scores[layer, :, layer + 1 :] = tl_scores(left, right, broadcast_dims=True)
    return scores


def cached_svd(decoder) -> torch.Tensor:  # noqa: ANN001
    n_layers, n_heads = decoder.cfg.n_layers, decoder.cfg.n_heads
    scores = torch.zeros(n_layers, n_heads, n_layers, n_heads)
    ov, qk = decoder.OV, decoder.QK.T
    left, right = ov.collapse_l(), qk.collapse_r()  # layer head d_head d_model / d_model d_head
    left_norm, right_norm = left.norm(dim=(-2, -1)), right.norm(dim=(-2, -1))
    for layer in range(n_layers - 1):
        product = left[layer][:, None, None] @ right[layer + 1 :][None]  # head L' head' d d
        norm = product.norm(dim=(-2, -1)) / left_norm[layer][:, None, None]
        scores[layer, :, layer + 1 :] = norm / right_norm[layer + 1 :][None]
    return scores


def compare(name: str, rounds: int) -> None:
    decoder = folded(load_with_tokenizer(MODELS[name]))
    n_heads = decoder.cfg.n_layers * decoder.cfg.n_heads
    values: dict = {}
    with torch.no_grad():
        times = interleaved(
            {
                "mechscope": lambda: composition_scores(decoder, CompositionKind.K, is_folded=True),
                "cached SVD": lambda: cached_svd(decoder),
                "per pair (before)": lambda: per_pair(decoder),
            },
            rounds,
            values,
        )
    diff = max(float((values[k] - values["cached SVD"]).abs().max()) for k in values)
    print(
        f"{name} ({n_heads} heads), K-composition: mechscope {median_seconds(times, 'mechscope')}"
        f"; cached SVD {ratio(times, 'cached SVD', 'mechscope')} mechscope's time (target >= "
        f"1x); per pair (before) {ratio(times, 'per pair (before)', 'mechscope')}; max |diff| "
        f"{diff:.1e}"
    )


def main(argv: list[str] | None = None) -> None:
    opts = options(argv)
    print(header(opts))
    for name in opts.models or ("gpt2-shape",) + (("smollm2",) if opts.full else ()):
        compare(name, opts.rounds)


if __name__ == "__main__":
    main()
