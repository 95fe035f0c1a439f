"""The vision analyses against baselines in the same run (see `benchmarks.common`).

On each shipped ViT and 400 held-out images:
- head kinds and object attention against their floor, one forward caching every
  ``hook_pattern`` (what both read), and the class lens against one plain forward;
- patching every (layer, position) on 24 images against a by-hand loop: one
  ``run_with_hooks`` per (layer, position), the clean ``resid_pre`` put back at that position
  for every image (the values are checked equal).
"""

import torch

from benchmarks.common import Options, header, interleaved, measure, options, ratio, run, seconds
from mechscope.data.images import load_image_set
from mechscope.lens import class_lens
from mechscope.models import load_model
from mechscope.vision import (
    classify_grid_heads,
    object_attention,
    patch_image_positions,
    remove_objects,
)

MODELS = {"vit-digits": "digits", "vit-shapes": "shapes"}
N_IMAGES, N_PATCHED = 400, 24


def setup(name: str):  # noqa: ANN201 - (model, images)
    model = load_model(name, device="cpu")
    images = load_image_set(MODELS[name]).part(held_out=True).subset(slice(0, N_IMAGES))
    return model, images


def patterns_floor(model, pixels: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    _, cache = model.run_with_cache(pixels, names_filter=lambda n: n.endswith("hook_pattern"),
                                    return_type=None)  # fmt: skip
    return torch.stack([cache[f"blocks.{i}.attn.hook_pattern"] for i in range(model.cfg.n_layers)])


def patching_by_hand(model, clean, corrupted, labels) -> torch.Tensor:  # noqa: ANN001
    names = [f"blocks.{i}.hook_resid_pre" for i in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(clean, names_filter=names)
    out = torch.zeros(model.cfg.n_layers, model.cfg.n_ctx)
    for layer, name in enumerate(names):
        for pos in range(model.cfg.n_ctx):

            def put_back(act, hook, name=name, pos=pos):  # noqa: ANN001, ANN202, ARG001
                act = act.clone()
                act[:, pos] = cache[name][:, pos]
                return act

            logits = model.run_with_hooks(corrupted, fwd_hooks=[(name, put_back)])
            out[layer, pos] = logits.log_softmax(-1).gather(-1, labels[:, None]).mean()
    return out


def jobs(model, images):  # noqa: ANN001, ANN201 - name: job
    pixels, masks, labels = images.pixels, images.masks, images.labels
    clean, few = pixels[:N_PATCHED], labels[:N_PATCHED]
    corrupted = remove_objects(clean, masks[:N_PATCHED], seed=0)
    return {
        "kinds": lambda: classify_grid_heads(model, pixels, masks),
        "objects": lambda: object_attention(model, pixels, masks),
        "patterns": lambda: patterns_floor(model, pixels),
        "lens": lambda: class_lens(model, pixels, labels),
        "forward": lambda: model(pixels),
        "patching": lambda: patch_image_positions(model, clean, corrupted, few),
        "patching by hand": lambda: patching_by_hand(model, clean, corrupted, few),
    }


def memory_job(name: str, job: str) -> None:
    measure(jobs(*setup(name))[job])


def compare(name: str, opts: Options) -> None:
    model, images = setup(name)
    results: dict = {}
    with torch.no_grad():
        times = interleaved(jobs(model, images), opts.rounds, results)
    ours = results["patching"].patched.mean(0)
    worst = float((ours - results["patching by hand"]).abs().max())
    print(
        f"{name}, {N_IMAGES} images: head kinds {seconds(times, 'kinds')} = "
        f"{ratio(times, 'kinds', 'patterns')} caching the patterns; object attention "
        f"{ratio(times, 'objects', 'patterns')}; class lens {ratio(times, 'lens', 'forward')} "
        f"a forward; patching {N_PATCHED} images x {model.cfg.n_layers} layers x "
        f"{model.cfg.n_ctx} positions {seconds(times, 'patching')} = "
        f"{ratio(times, 'patching', 'patching by hand')} the by-hand loop (max |diff| {worst:.1e})"
    )


def main(argv: list[str] | None = None) -> None:
    opts = options(argv)
    print(header(opts))
    for name in opts.models or tuple(MODELS):
        compare(name, opts)


if __name__ == "__main__":
    run(main, memory_job)
