"""Patching cost, as ratios against TransformerLens and a plain pass measured in the same run.

Targets (issue 5):
- exact patching >= 5x faster than TransformerLens ``get_act_patch_attn_head_out_all_pos``
  and ``get_act_patch_resid_pre`` on the same inputs (same values, checked here too);
- attribution patching of all sites <= 3x one forward + backward pass.
"""

import torch
import transformer_lens.patching as tl_patching

from benchmarks.common import WIDER, best_of, load_with_tokenizer
from mechscope.core.sites import Component, every_site
from mechscope.interventions.activation import activation_patching, patching_hooks
from mechscope.interventions.attribution import attribution_patching
from mechscope.interventions.pairs import repeated_pairs


def compare(name: str, spec: object, n_prompts: int, half: int) -> None:
    model = load_with_tokenizer(spec)
    task = repeated_pairs(model, n_prompts=n_prompts, half=half)
    metric = task.logit_diff()
    n_layers, n_heads, n_pos = model.cfg.n_layers, model.cfg.n_heads, task.clean.tokens.shape[1]
    _, clean_cache = model.run_with_cache(task.clean.tokens)
    print(f"{name}: {n_prompts} prompt pairs x {n_pos} tokens")
    for label, tl_function, sites in (
        ("head outputs, all positions", tl_patching.get_act_patch_attn_head_out_all_pos,
         every_site(Component.Z, n_layers, n_heads=n_heads)),
        ("resid_pre by layer and position", tl_patching.get_act_patch_resid_pre,
         every_site(Component.RESID_PRE, n_layers, n_pos=n_pos)),
    ):  # fmt: skip
        theirs_time = best_of(
            lambda f=tl_function: f(model, task.corrupted.tokens, clean_cache, metric), 1
        )
        theirs = tl_function(model, task.corrupted.tokens, clean_cache, metric)

        def ours_run(s=sites):  # noqa: ANN202 - both runs included, cached once
            runs = task.runs(model, metric, patching_hooks(model, s))
            return activation_patching(runs, s, progress=False)

        ours_time = best_of(ours_run)
        result = ours_run()
        grid = result.by_layer_head(False) if result.has_heads else result.by_layer_pos(False)
        worst = float((grid - theirs).abs().max())
        print(
            f"  {label} ({len(sites)} sites): TransformerLens {theirs_time:.3f}s, mechscope "
            f"{ours_time:.3f}s -> {theirs_time / ours_time:.1f}x (target >= 5x); "
            f"max |diff| {worst:.1e}"
        )

    def forward_backward() -> None:
        metric(model(task.corrupted.tokens)).backward()
        model.zero_grad(set_to_none=True)

    plain = best_of(forward_backward)
    all_sites = every_site(Component.RESID_PRE, n_layers, n_pos=n_pos) + every_site(
        Component.Z, n_layers, n_heads=n_heads, n_pos=n_pos
    )
    attribution = best_of(lambda: attribution_patching(task.runs(model, metric), all_sites))
    print(
        f"  attribution, {len(all_sites)} sites (resid_pre and z by head and position): "
        f"{attribution:.3f}s vs forward+backward {plain:.3f}s -> {attribution / plain:.2f}x "
        "(target <= 3x)"
    )


def main() -> None:
    torch.manual_seed(0)
    compare("induction-2l", "induction-2l", n_prompts=16, half=10)
    compare("4 layers x 8 heads, d_model 256", WIDER, n_prompts=16, half=24)


if __name__ == "__main__":
    main()
