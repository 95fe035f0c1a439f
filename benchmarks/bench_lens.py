"""Logit lens cost as a ratio to one plain forward pass of the same batch, same run.

Target (issue): all boundaries and positions of 64 prompts x 128 tokens in <= 2x a forward.
The lens reads every boundary through the unembedding, so its cost grows with
n_layers x d_vocab: the ratio is reported for the shipped byte-level model (vocab 258) and for
a GPT-2-vocabulary random model (vocab 50257), where the unembedding dominates.
"""

import torch
from transformer_lens import HookedTransformerConfig

from benchmarks.common import best_of
from mechscope.core.batch import pad_token_lists
from mechscope.lens.logit import lens_trajectory
from mechscope.models import load_model


def ratio(model, n_prompts: int = 64, n_pos: int = 128) -> tuple[float, float, float]:
    generator = torch.Generator().manual_seed(0)
    n_pos = min(n_pos, model.cfg.n_ctx)
    tokens = torch.randint(0, model.cfg.d_vocab, (n_prompts, n_pos), generator=generator)
    batch = pad_token_lists(tokens.tolist(), pad_id=0)
    with torch.no_grad():
        forward = best_of(lambda: model(tokens))
    lens = best_of(lambda: lens_trajectory(model, batch))
    return forward, lens, lens / forward


def main() -> None:
    torch.manual_seed(0)
    gpt2_vocab = HookedTransformerConfig(
        n_layers=4, d_model=256, n_heads=4, d_head=64, d_mlp=1024, n_ctx=128, d_vocab=50257,
        act_fn="gelu", normalization_type="LN",
    )  # fmt: skip
    for name, spec in (
        ("induction-2l (vocab 258)", "induction-2l"),
        ("4-layer, vocab 50257", gpt2_vocab),
    ):
        model = load_model(spec, device="cpu")
        forward, lens, r = ratio(model)
        print(f"{name:<28} forward {forward:.3f}s  lens {lens:.3f}s  ratio {r:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
