"""ViT attention on the image grid: measurement, Result, claims and report."""

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from experiments.vit_attention.config import Config
from mechscope.core import HeadId, ImageBatch, Result, mean_and_sem
from mechscope.data import ImageSet, load_image_set, patch_object_fraction
from mechscope.interventions import ablate
from mechscope.lens import ClassLens, class_lens
from mechscope.models import (
    BUNDLED,
    HookedViT,
    Model,
    adapt,
    attention_patterns,
    load_model,
    random_like,
)
from mechscope.representations import Pooling, ProbeResult, collect, probe_layers
from mechscope.training import accuracy_and_loss, read_metrics
from mechscope.vision import (
    GridHeadKinds,
    GridKind,
    ImagePatching,
    ObjectAttention,
    attention_rollout,
    classify_grid_heads,
    move_objects,
    object_attention,
    patch_image_positions,
    remove_objects,
    uniform_distance,
)
from mechscope.viz import (
    Report,
    attention_distance_figure,
    attention_small_multiples,
    heatmap,
    interactive_attention_grid,
    line_chart,
)

ABLATED = 4
"""Heads mean-ablated together: the most object-focused, and as a control the least."""

PARTS = {"kinds": GridHeadKinds, "objects": ObjectAttention, "lens": ClassLens,
         "patching": ImagePatching, "class_probe": ProbeResult,
         "side_probe": ProbeResult}  # fmt: skip


@dataclass(frozen=True)
class ModelFindings:
    """Everything measured on one ViT."""

    accuracy: float
    accuracy_se: float
    uniform_px: float
    """Mean attention distance of uniform attention (pixels)."""
    kinds: GridHeadKinds
    objects: ObjectAttention
    lens: ClassLens
    patching: ImagePatching
    moved: Float[Tensor, "image version"]
    """Log-probability of the class and whether it is predicted (columns: clean log-prob,
    moved log-prob, clean correct, moved correct), with the object moved (`move_objects`)."""
    class_probe: ProbeResult
    """Linear probes for the class on [CLS] by boundary, with control task and random init."""
    side_probe: ProbeResult
    """The same for the half (left/right) of the image holding the object's centre."""
    example_pixels: Float[Tensor, "example channel height width"]
    example_patterns: Float[Tensor, "example layer head dest_pos src_pos"]
    object_gain: Float[Tensor, "image layer"]
    """Per patched image: patched - corrupted log-prob averaged over its object patches (by
    object fraction; `ImagePatching.gain_on`)."""
    background_gain: Float[Tensor, "image layer"]
    """The same over the patches without any object pixel."""
    dataset: str
    training: dict[str, Any] = field(default_factory=dict)
    """The shipped run's last logged evaluation and its steps (empty if none was found)."""
    head_ablation: list[dict[str, Any]] = field(default_factory=list)
    """Held-out accuracy (± s.e. over images) with nothing, the ``ABLATED`` most
    object-focused heads and, as a control, the ``ABLATED`` least object-focused ones
    mean-ablated (empty in results saved before it was measured)."""

    def layer_rows(self) -> list[dict[str, Any]]:
        """Per layer: distance over heads, object shares with chance, and the class lens."""
        objects = self.objects.summary()
        lens = self.lens.summary()
        gap = self.patching.clean_value - self.patching.corrupted_value
        rows = []
        for layer, distance in enumerate(self.kinds.distance):
            rows.append({
                "layer": layer, "distance_px": float(distance.mean()),
                "distance_se": mean_and_sem(distance)[1],
                "distance_min": float(distance.min()), "distance_max": float(distance.max()),
                "uniform_px": self.uniform_px,
                "cls_share": objects[layer]["cls_share"],
                "cls_share_se": objects[layer]["cls_share_se"],
                "rollout_share": objects[layer]["rollout_share"],
                "rollout_share_se": objects[layer]["rollout_share_se"],
                "chance": objects[layer]["chance"],
                "lens_accuracy": lens[layer + 1]["accuracy"],
                "lens_accuracy_se": lens[layer + 1]["accuracy_se"],
                "object_patch_effect": float(self.object_gain[:, layer].mean()) / gap,
                "object_patch_effect_se": mean_and_sem(self.object_gain[:, layer])[1] / gap,
                "background_patch_effect": float(self.background_gain[:, layer].mean()) / gap,
                "background_patch_effect_se": mean_and_sem(self.background_gain[:, layer])[1] / gap,
            })  # fmt: skip
        return rows

    def claims(self) -> list[dict[str, str]]:
        """The seeds' claims, each with the measurement behind its verdict."""
        distance = self.kinds.distance
        n_layers, n_heads = distance.shape
        layers = torch.arange(n_layers).repeat_interleave(n_heads).double()
        values = distance.flatten().double()
        slope, slope_se = _slope(layers, values)
        first, last = distance[0], distance[-1]
        out = [{
            "claim": "attention distance grows with depth (local low, global high)",
            "measured": f"slope {slope:+.2f} ± {slope_se:.2f} px per layer over "
                        f"{n_layers * n_heads} heads; layer 0 mean {float(first.mean()):.2f} px, "
                        f"layer {n_layers - 1} mean {float(last.mean()):.2f} px, "
                        f"uniform {self.uniform_px:.2f} px",
            "verdict": _verdict(slope > 2 * slope_se),
        }, {
            "claim": "some heads attend globally already in the lowest layer",
            "measured": f"largest layer-0 distance {float(first.max()):.2f} px = "
                        f"{float(first.max()) / self.uniform_px:.2f} of uniform",
            "verdict": _verdict(float(first.max()) >= 0.8 * self.uniform_px),
        }, {
            "claim": "other lowest-layer heads attend locally",
            "measured": f"smallest layer-0 distance {float(first.min()):.2f} px = "
                        f"{float(first.min()) / self.uniform_px:.2f} of uniform",
            "verdict": _verdict(float(first.min()) <= 0.5 * self.uniform_px),
        }]  # fmt: skip
        shares = {"[CLS] attention": self.objects.cls_share,
                  "attention rollout from [CLS]": self.objects.rollout_share}  # fmt: skip
        for what, share in shares.items():
            lift = share[:, -1] - self.objects.chance
            mean, se = mean_and_sem(lift)
            out.append({
                "claim": f"{what} in the last layer falls on the object more than chance",
                "measured": f"share - chance {mean:+.3f} ± {se:.3f} over {lift.numel()} images "
                            f"(chance {float(self.objects.chance.mean()):.3f})",
                "verdict": _verdict(mean > 2 * se),
            })  # fmt: skip
        return out


def _slope(x: Tensor, y: Tensor) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error."""
    xc = x - x.mean()
    slope = float((xc * (y - y.mean())).sum() / (xc**2).sum())
    residual = y - y.mean() - slope * xc
    dof = max(1, x.numel() - 2)
    se = math.sqrt(float((residual**2).sum()) / dof / float((xc**2).sum()))
    return slope, se


def _verdict(holds: bool) -> str:
    return "holds" if holds else "does not hold"


@dataclass(frozen=True)
class VitAttentionResult(Result):
    """`ModelFindings` for every model measured."""

    kind: ClassVar[str] = "vit-attention"
    models: dict[str, ModelFindings]

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per model and layer (`ModelFindings.layer_rows`)."""
        import pandas as pd

        return pd.DataFrame([{"model": name} | row for name, f in self.models.items()
                             for row in f.layer_rows()])  # fmt: skip

    def _tensors(self) -> dict[str, Tensor]:
        out = {}
        for i, findings in enumerate(self.models.values()):
            for part in PARTS:
                for key, value in getattr(findings, part)._tensors().items():
                    out[f"{i}.{part}.{key}"] = value
            out[f"{i}.example_pixels"] = findings.example_pixels
            out[f"{i}.example_patterns"] = findings.example_patterns
            out[f"{i}.moved"] = findings.moved
            out[f"{i}.object_gain"] = findings.object_gain
            out[f"{i}.background_gain"] = findings.background_gain
        return out

    def _data(self) -> dict[str, Any]:
        return {"models": [
            {"name": name, "accuracy": f.accuracy, "accuracy_se": f.accuracy_se,
             "uniform_px": f.uniform_px, "dataset": f.dataset, "training": f.training,
             "head_ablation": f.head_ablation,
             **{part: getattr(f, part)._data() for part in PARTS}}
            for name, f in self.models.items()
        ]}  # fmt: skip

    @classmethod
    def _from_saved(cls, tensors: dict[str, Tensor], data: dict[str, Any]) -> "VitAttentionResult":
        models = {}
        for i, entry in enumerate(data["models"]):
            parts = {}
            for part, kind in PARTS.items():
                mine = {key.split(".", 2)[2]: value for key, value in tensors.items()
                        if key.startswith(f"{i}.{part}.")}  # fmt: skip
                parts[part] = kind._from_saved(mine, entry[part])
            models[entry["name"]] = ModelFindings(
                entry["accuracy"], entry["accuracy_se"], entry["uniform_px"], **parts,
                example_pixels=tensors[f"{i}.example_pixels"],
                example_patterns=tensors[f"{i}.example_patterns"],
                moved=tensors[f"{i}.moved"],
                object_gain=tensors[f"{i}.object_gain"],
                background_gain=tensors[f"{i}.background_gain"],
                dataset=entry["dataset"], training=entry["training"],
                head_ablation=entry.get("head_ablation", []),
            )  # fmt: skip
        return cls(models)


def _training_summary(spec: str) -> dict[str, Any]:
    """The last logged evaluation of the run a model came from.

    A shipped ViT's run, or the run holding a checkpoint directory (``RUN/checkpoints/step_N``:
    its evaluations up to step N); empty if there is none.
    """
    step = Path(spec).name.removeprefix("step_")
    if spec in BUNDLED:
        records = read_metrics(BUNDLED[spec]())
    elif step.isdigit() and (Path(spec).parent.parent / "metrics.jsonl").is_file():
        records = [r for r in read_metrics(Path(spec).parent.parent) if r["step"] <= int(step)]
    else:
        return {}
    if not records:
        return {}
    last = records[-1]
    return {key: last[key] for key in ("step", "held_out_accuracy", "held_out_accuracy_se",
                                       "train_accuracy", "elapsed_s")}  # fmt: skip


def object_side(images: ImageSet) -> list[str]:
    """Which half of each image holds the centre of its object's pixels."""
    columns = images.masks.float().mean(1)
    centre = (columns * torch.arange(columns.shape[-1])).sum(-1) / columns.sum(-1).clamp_min(1)
    return ["left" if c < columns.shape[-1] / 2 - 0.5 else "right" for c in centre.tolist()]


def probes(vit: HookedViT, train: ImageSet, held_out: ImageSet) -> dict[str, ProbeResult]:
    """Class and object-side probes on [CLS] at every boundary, with their baselines."""
    fresh = random_like(vit, seed=0)
    train_batch, eval_batch = vit.image_batch(train.pixels), vit.image_batch(held_out.pixels)

    def cls(model: Model, batch: ImageBatch):  # noqa: ANN202 - Activations
        return collect(model, batch, pooling=Pooling.SENTENCE_CLS, batch_size=256, progress=False)

    train_acts, eval_acts = cls(vit, train_batch), cls(vit, eval_batch)
    random_train, random_eval = cls(fresh, train_batch), cls(fresh, eval_batch)
    out = {}
    for part, task, labels in (
        ("class_probe", "class", lambda s: [s.class_names[i] for i in s.labels.tolist()]),
        ("side_probe", "object side", object_side),
    ):
        out[part] = probe_layers(train_acts, labels(train), eval_acts, labels(held_out),
                                 task=task, random_train=random_train,
                                 random_eval=random_eval, progress=False)  # fmt: skip
    return out


@torch.no_grad()
def moved_objects(vit: HookedViT, images: ImageSet) -> Tensor:
    """Clean and moved-object log-probability of the class, and whether each is predicted."""
    moved, _ = move_objects(images.pixels, images.masks, seed=0)
    columns = []
    for pixels in (images.pixels, moved):
        logits = torch.cat([vit(pixels[i : i + 512]).cpu() for i in range(0, len(images), 512)])
        columns.append(logits.log_softmax(-1).gather(-1, images.labels[:, None])[:, 0])
        columns.append((logits.argmax(-1) == images.labels).float())
    return torch.stack([columns[0], columns[2], columns[1], columns[3]], dim=-1)


@torch.no_grad()
def head_ablation(vit: HookedViT, kinds: GridHeadKinds, images: ImageSet) -> list[dict[str, Any]]:
    """Accuracy with the most and the least object-focused heads mean-ablated (± s.e.)."""
    score = kinds.score(GridKind.OBJECT)
    ranked = [HeadId(i // score.shape[1], i % score.shape[1])
              for i in score.flatten().argsort(descending=True).tolist()]  # fmt: skip
    reference = ImageBatch(images.pixels, vit.vit_cfg.patch_size)
    rows = []
    for label, heads in (("nothing", []), ("most object-focused heads", ranked[:ABLATED]),
                         ("least object-focused heads", ranked[-ABLATED:])):  # fmt: skip
        ablated = ablate(vit, heads, "mean", reference=reference) if heads else nullcontext()
        with ablated:
            logits = torch.cat([vit(images.pixels[i : i + 512]).cpu()
                                for i in range(0, len(images), 512)])  # fmt: skip
        accuracy, se = mean_and_sem((logits.argmax(-1) == images.labels).float())
        rows.append({"label": label, "heads": [str(h) for h in heads],
                     "accuracy": accuracy, "accuracy_se": se, "n_images": len(images)})  # fmt: skip
    return rows


def measure(spec: str, cfg: Config) -> ModelFindings:
    """Every measurement of the report on one ViT, on its held-out images."""
    vit = adapt(load_model(spec, device="cpu")).vision("the ViT attention reproduction")
    dataset = "shapes" if vit.vit_cfg.image_size == 32 else "digits"
    images_all = load_image_set(dataset, seed=0)
    held_out = images_all.part(held_out=True)
    probe_train = images_all.part(held_out=False).subset(slice(0, cfg.n_probe_train))
    images = held_out.subset(slice(0, cfg.n_images))
    _, accuracy, accuracy_se = accuracy_and_loss(vit, held_out)
    patterns = attention_patterns(
        vit, ImageBatch(images.pixels[: cfg.examples], vit.vit_cfg.patch_size)
    )
    patched = images.subset(slice(0, cfg.n_patching))
    corrupted = remove_objects(patched.pixels, patched.masks, seed=0)
    patching = patch_image_positions(vit, patched.pixels, corrupted, patched.labels)
    fraction = patch_object_fraction(patched.masks, vit.vit_cfg.patch_size)
    kinds = classify_grid_heads(vit, images.pixels, images.masks, radius=cfg.radius)
    return ModelFindings(
        accuracy=accuracy,
        accuracy_se=accuracy_se,
        uniform_px=uniform_distance(vit.vit_cfg.grid, vit.vit_cfg.patch_size),
        kinds=kinds,
        objects=object_attention(vit, images.pixels, images.masks),
        lens=class_lens(vit, images.pixels, images.labels),
        patching=patching,
        moved=moved_objects(vit, images),
        **probes(vit, probe_train, images),
        example_pixels=images.pixels[: cfg.examples],
        example_patterns=patterns.cpu(),
        object_gain=patching.gain_on(fraction),
        background_gain=patching.gain_on((fraction == 0).float()),
        dataset=dataset,
        training=_training_summary(spec),
        head_ablation=head_ablation(vit, kinds, images),
    )


def run(cfg: Config) -> VitAttentionResult:
    """Measure every model."""
    models = {spec: measure(spec, cfg) for spec in tqdm(cfg.models, desc="ViTs")}
    return VitAttentionResult(models).with_provenance(cfg, ",".join(cfg.models))


def report(result: VitAttentionResult, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The report: per model, the numbers, the verdicts and the pictures."""
    report = Report("ViT attention on the image grid")
    report.paragraph(
        "Measured on mechscope's shipped ViTs (4 blocks, 4 heads, d_model 64, 8x8 patch grid) "
        "on held-out images. Distances are in pixels between patch centres, weights "
        "renormalised over patches, [CLS] as a query left out (Dosovitskiy et al. 2020, fig. "
        "7). Object shares count each patch by the fraction of its pixels in the object mask "
        "(digits: the ink; shapes: the shapes); chance is the object's share of the image. "
        "Errors are standard errors over images (over heads for distance by layer).",
        note=True,
    )
    for name, findings in result.models.items():
        _render_model(report, name, findings)
    return report


def _render_model(report: Report, name: str, f: ModelFindings) -> None:
    report.heading(f"{name} ({f.dataset})")
    trained = f.training
    trained_text = (f" Shipped run: {trained['step']} steps in {trained['elapsed_s']:.0f} s on "
                    "2 CPU cores." if trained else "")  # fmt: skip
    report.paragraph(f"Held-out accuracy {f.accuracy:.3f} ± {f.accuracy_se:.3f}.{trained_text}")
    report.table(["claim", "measured", "verdict"],
                 [[c["claim"], c["measured"], c["verdict"]] for c in f.claims()])  # fmt: skip
    if f.head_ablation:
        report.table(["mean-ablated", "heads", "held-out accuracy ± s.e."],
                     [[r["label"], ", ".join(r["heads"]) or "-",
                       f"{r['accuracy']:.3f} ± {r['accuracy_se']:.3f}"]
                      for r in f.head_ablation])  # fmt: skip
    rows = f.layer_rows()
    report.table(
        ["layer", "distance (px)", "± s.e. (heads)", "min head", "max head", "uniform",
         "[CLS] on object", "rollout on object", "chance", "class lens accuracy"],
        [[r["layer"], r["distance_px"], r["distance_se"], r["distance_min"], r["distance_max"],
          r["uniform_px"], f"{r['cls_share']:.3f} ± {r['cls_share_se']:.3f}",
          f"{r['rollout_share']:.3f} ± {r['rollout_share_se']:.3f}", r["chance"],
          f"{r['lens_accuracy']:.3f} ± {r['lens_accuracy_se']:.3f}"] for r in rows],
    )  # fmt: skip
    report.figure(attention_distance_figure(f.kinds.distance, uniform=f.uniform_px,
                                            title=f"{name}: mean attention distance"))  # fmt: skip
    layers = [r["layer"] for r in rows]
    report.figure(line_chart(
        {"[CLS] attention": (layers, [r["cls_share"] for r in rows]),
         "rollout from [CLS]": (layers, [r["rollout_share"] for r in rows]),
         "chance (object's share of the image)": (layers, [r["chance"] for r in rows])},
        errors={"[CLS] attention": [r["cls_share_se"] for r in rows],
                "rollout from [CLS]": [r["rollout_share_se"] for r in rows]},
        title=f"{name}: share of attention on the object", x_title="layer", y_title="share",
    ))  # fmt: skip
    lens = f.lens.summary()
    report.figure(line_chart(
        {"accuracy": ([r["boundary"] for r in lens], [r["accuracy"] for r in lens])},
        errors={"accuracy": [r["accuracy_se"] for r in lens]},
        title=f"{name}: class lens (boundary 0 = embeddings; last = the model's output)",
        x_title="boundary", y_title="accuracy",
    ))  # fmt: skip
    for probe in (f.class_probe, f.side_probe):
        report.figure(line_chart(
            {"trained": (list(range(len(probe.boundaries))), probe.accuracy.tolist()),
             "control task": (list(range(len(probe.boundaries))), probe.control.tolist()),
             "random init": (list(range(len(probe.boundaries))), probe.random_init.tolist()),
             "majority": (list(range(len(probe.boundaries))),
                          [probe.majority] * len(probe.boundaries))},
            title=f"{name}: linear probe for the {probe.task} on [CLS] "
                  f"({probe.n_train} train, {probe.n_eval} held-out images)",
            x_title="boundary (0 = embeddings)", y_title="held-out accuracy",
        ))  # fmt: skip
    scores = f.kinds.scores
    n_layers, n_heads = f.kinds.distance.shape
    report.figure(heatmap(
        [[float(scores[k, layer, head]) for k in range(len(GridKind))]
         for layer in range(n_layers) for head in range(n_heads)],
        x_labels=[k.value for k in GridKind],
        y_labels=[f"{layer}.{head}" for layer in range(n_layers) for head in range(n_heads)],
        title=f"{name}: head kinds", x_title="kind", y_title="head", value_name="score",
        zmin=0.0, zmax=1.0,
    ))  # fmt: skip
    labelled = ", ".join(f"{head} {'/'.join(k.value for k in kinds)}"
                         for head, kinds in f.kinds.labels().items())  # fmt: skip
    report.paragraph(
        "Head kind scores are attention masses from the patch queries (object: the share of "
        "attention to patches on the object, from every query; chance "
        f"{f.kinds.object_chance:.2f}). Labelled heads (score >= 0.5; object also >= 2x "
        f"chance): {labelled or 'none'}."
    )
    grid = f.patching.grid
    patch = f.example_pixels.shape[-1] // grid[1]
    object_scores = f.kinds.score(GridKind.OBJECT).flatten()
    top = object_scores.argsort(descending=True)[:4].tolist()
    for example in range(f.example_pixels.shape[0]):
        image = f.example_pixels[example, 0]
        patterns = f.example_patterns[example]
        maps = torch.stack([patterns[i // n_heads, i % n_heads, 0, 1:].reshape(grid)
                            for i in top])  # fmt: skip
        report.figure(attention_small_multiples(
            image, maps, [f"head {i // n_heads}.{i % n_heads}" for i in top], patch_size=patch,
            title=f"{name}, image {example}: [CLS] attention of the 4 most object-focused heads",
        ))  # fmt: skip
    image, patterns = f.example_pixels[0, 0], f.example_patterns[0]
    report.figure(attention_small_multiples(
        image, patterns[-1, :, 0, 1:].reshape(n_heads, *grid),
        [f"head {n_layers - 1}.{h}" for h in range(n_heads)], patch_size=patch,
        title=f"{name}, image 0: [CLS] attention of every head of the last layer",
    ))  # fmt: skip
    best = top[0] % n_heads
    centre = (grid[0] // 2, grid[1] // 2)
    query = 1 + centre[0] * grid[1] + centre[1]
    report.figure(attention_small_multiples(
        image, patterns[:, best, query, 1:].reshape(n_layers, *grid),
        [f"layer {layer}" for layer in range(n_layers)], patch_size=patch, query=centre,
        title=f"{name}, image 0: head {best} of every layer, from the centre patch {centre}",
    ))  # fmt: skip
    rollout = attention_rollout(f.example_patterns[:1])[0, :, 0, 1:].reshape(n_layers, *grid)
    report.figure(attention_small_multiples(
        image, rollout, [f"up to layer {layer}" for layer in range(n_layers)], patch_size=patch,
        title=f"{name}, image 0: attention rollout from [CLS]", value_name="rollout",
    ))  # fmt: skip
    report.html(interactive_attention_grid(
        image, patterns, grid=grid, patch_size=patch,
        title=f"{name}, image 0: hover a patch to see its attention",
    ))  # fmt: skip
    effect = f.patching.on_grid(f.patching.image_effect(0))
    report.figure(attention_small_multiples(
        image, effect.clamp_min(0), [f"layer {layer}" for layer in range(n_layers)],
        patch_size=patch, value_name="effect",
        title=f"{name}, image 0: patching each position back into the image without its object",
    ), caption="Each patch position of blocks.l.hook_resid_pre patched from image 0 into the "
               "same image with its object removed; effect 1 = clean, 0 = object removed "
               "(negative effects drawn as 0)."
    )  # fmt: skip
    report.table(
        ["layer", "object patches", "background patches", "[CLS] (means over images)"],
        [[r["layer"], f"{r['object_patch_effect']:.3f} ± {r['object_patch_effect_se']:.3f}",
          f"{r['background_patch_effect']:.3f} ± {r['background_patch_effect_se']:.3f}",
          float(f.patching.cls_effect[r["layer"]])] for r in rows],
    )  # fmt: skip
    drop = f.moved[:, 0] - f.moved[:, 1]
    report.paragraph(
        f"Moving the object instead of removing it ({f.moved.shape[0]} images; to a random "
        f"place where it fits): the class log-probability falls by {float(drop.mean()):.3f} ± "
        f"{mean_and_sem(drop)[1]:.3f} and accuracy goes from {float(f.moved[:, 2].mean()):.3f} to "
        f"{float(f.moved[:, 3].mean()):.3f}; a classifier that does not care where the object is "
        "gives patching nothing to restore after a move, so removal is the corruption here."
    )
    report.paragraph(
        f"Patching one position at a time, {f.patching.n_images} images: the gain of a patch "
        "position on its own image, averaged over the image's object patches (weighted by "
        "object fraction) or its background patches, then over images, normalised by clean - "
        "corrupted (standard errors over images). Class log-probability: clean "
        f"{f.patching.clean_value:.2f}, object removed {f.patching.corrupted_value:.2f}."
    )
