"""SAE training against SAELens's own runner, and the activation pass against its floor.

1. The same SAE (TopK, same width, k, batch size, learning rate and training tokens) trained
   on the same token windows two ways: mechscope's `train_sae` path (one activation pass over
   the windows the training tokens need, stopping at the site, `read_sites`, then `fit_sae`:
   SAELens's trainer on those activations, with the same dead-feature windows)
   and SAELens's `LanguageModelSAETrainingRunner` (its ActivationsStore runs the model and
   buffers activations itself), given the windows as a tokenized dataset and the model
   directly. Both are timed end to end, interleaved; each side's explained variance on the
   same held-out activations shows they trained alike.
2. The activation pass: `read_sites` (stops at the site, keeps real tokens) against the
   floor of a full ``run_with_cache`` over the same windows keeping only that hook.

Ratios > 1 mean mechscope is faster. Models: the shipped induction-2l (``--full``: SmolLM2).
"""

import statistics
import tempfile
from typing import Any

import torch

from benchmarks.common import interleaved, options
from mechscope.data import load_corpus
from mechscope.features import (
    SaeRecipe,
    evaluate_reconstruction,
    fit_sae,
    read_sites,
    site_activations,
    site_hook,
)
from mechscope.models import corpus_windows, load_model

WIDTH_PER_DIM = 8
K = 16
BATCH = 1024
LR = 1e-3


def _saelens_runner(model: Any, hook: str, windows: torch.Tensor, tokens: int) -> Any:  # noqa: ANN401
    from datasets import Dataset
    from sae_lens import (
        LanguageModelSAERunnerConfig,
        LanguageModelSAETrainingRunner,
        LoggingConfig,
        TopKTrainingSAEConfig,
    )

    d_in = model.cfg.d_model
    steps = tokens // BATCH
    with tempfile.TemporaryDirectory() as out:
        cfg = LanguageModelSAERunnerConfig(
            sae=TopKTrainingSAEConfig(d_in=d_in, d_sae=WIDTH_PER_DIM * d_in, k=K),
            model_name="benchmark", hook_name=hook, is_dataset_tokenized=True, streaming=False,
            context_size=windows.shape[1], training_tokens=tokens, train_batch_size_tokens=BATCH,
            store_batch_size_prompts=8, n_batches_in_buffer=8, lr=LR, prepend_bos=False,
            logger=LoggingConfig(log_to_wandb=False), n_checkpoints=0, checkpoint_path=out,
            output_path=None, n_eval_batches=0, n_batches_for_norm_estimate=1, verbose=False,
            device="cpu", lr_warm_up_steps=max(1, steps // 20), lr_end=LR,
            # the dead-feature windows fit_sae derives from the number of steps (same aux loss)
            dead_feature_window=max(1, min(1000, steps // 4)),
            feature_sampling_window=max(1, min(2000, steps // 2)),
        )  # fmt: skip
        dataset = Dataset.from_dict({"tokens": windows.tolist()})
        runner = LanguageModelSAETrainingRunner(cfg, override_dataset=dataset,
                                                override_model=model)  # fmt: skip
        return runner.run()


def _mechscope(model: Any, hook: str, windows: torch.Tensor, tokens: int) -> Any:  # noqa: ANN401
    needed = -(-tokens // (windows.shape[1] - 1))  # windows holding the training tokens
    (acts,) = read_sites(model, windows[:needed], [hook], progress=False)
    recipe = SaeRecipe(expansion=WIDTH_PER_DIM, k=K, tokens=tokens, read_tokens=tokens,
                       batch_size=BATCH, lr=LR, checkpoints=0)  # fmt: skip
    sae, _ = fit_sae(acts, recipe, progress=False)
    return sae


def _floor(model: Any, hook: str, windows: torch.Tensor) -> None:  # noqa: ANN401
    with torch.no_grad():
        for start in range(0, windows.shape[0], 8):
            _, cache = model.run_with_cache(windows[start : start + 8], names_filter=hook)
            cache[hook].clone()


def main() -> None:
    opts = options()
    models = opts.models or (("induction-2l", "smollm2-135m") if opts.full else ("induction-2l",))
    corpus = load_corpus()
    for spec in models:
        measure(spec, corpus, opts)


def measure(spec: str, corpus: Any, opts: Any) -> None:  # noqa: ANN401
    """Both comparisons on one model, printed."""
    model = load_model(spec, device="cpu")
    layer = model.cfg.n_layers - 1
    hook = site_hook(model, "resid_post", layer)
    generator = torch.Generator().manual_seed(0)
    windows = corpus_windows(model, corpus.train.tobytes(), 480, 128, generator)
    held = corpus_windows(model, corpus.held_out.tobytes(), 24, 128, generator)
    tokens = int(windows.numel() * 0.75) // BATCH * BATCH  # one pass over 3/4 of them
    trained: dict[str, Any] = {}
    times = interleaved({
        "SAELens runner": lambda: _saelens_runner(model, hook, windows, tokens),
        "mechscope": lambda: _mechscope(model, hook, windows, tokens),
    }, opts.rounds, trained)  # fmt: skip
    ratios = [a / b for a, b in zip(times["SAELens runner"], times["mechscope"], strict=True)]
    x_held = site_activations(model, held, hook, progress=False)
    ev = {name: evaluate_reconstruction(sae, hook, x_held).explained_variance
          for name, sae in trained.items()}  # fmt: skip
    print(f"{spec} {hook}: {tokens} training tokens, width {WIDTH_PER_DIM * model.cfg.d_model}"
          f", k {K}: SAELens runner {statistics.median(times['SAELens runner']):.1f}s, "
          f"mechscope {statistics.median(times['mechscope']):.1f}s; ratio per round "
          f"{min(ratios):.2f}-{max(ratios):.2f}x ({opts.threads} thread(s), {opts.rounds} "
          f"rounds); held-out explained variance SAELens {ev['SAELens runner']:.3f}, "
          f"mechscope {ev['mechscope']:.3f}")  # fmt: skip
    passes = interleaved({
        "run_with_cache floor": lambda: _floor(model, hook, windows),
        "read_sites": lambda: read_sites(model, windows, [hook], progress=False),
    }, opts.rounds)  # fmt: skip
    pass_ratios = [a / b for a, b in zip(passes["run_with_cache floor"], passes["read_sites"],
                                         strict=True)]  # fmt: skip
    print(f"{spec} activation pass over {windows.shape[0]} windows: run_with_cache "
          f"{statistics.median(passes['run_with_cache floor']):.2f}s, read_sites "
          f"{statistics.median(passes['read_sites']):.2f}s; ratio per round "
          f"{min(pass_ratios):.2f}-{max(pass_ratios):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
