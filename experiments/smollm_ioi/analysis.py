"""The IOI reproduction: behaviour, patching, attribution, path patching, attention; report."""

import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from experiments.smollm_ioi.config import Config
from mechscope.core import (
    Component,
    HeadId,
    Outcome,
    Result,
    Site,
    every_site,
    logit_diffs,
    mean_and_sem,
    regroup_v1,
)
from mechscope.heads import attention_patterns
from mechscope.interventions import (
    IoiCorruption,
    PatchingResult,
    activation_patching,
    attribution_patching,
    correlation,
    ioi_pairs,
    patching_hooks,
    path_attribution,
    path_patching,
)
from mechscope.models import load_model, str_tokens
from mechscope.viz import Report, attention_heads_view, heatmap

GRIDS = ("resid_pre", "attn_out", "mlp_out", "z_all", "z_final")


@dataclass(frozen=True)
class IoiResult(Result):
    """Every number of the IOI reproduction (patching grids normalised: 0 corrupted, 1 clean)."""

    kind: ClassVar[str] = "ioi-circuit"
    behaviour: list[dict[str, Any]]
    """Per corruption: clean and corrupted logit difference (mean, s.e.), IO win rate, n."""
    tokens: list[str]
    """The first patching prompt's tokens (the positions of the by-position grids)."""
    grids: dict[str, Float[Tensor, "..."]]
    """Exact patching: resid_pre [layer, pos], attn_out / mlp_out [layer, 1], z_all and
    z_final [layer, head]."""
    attribution: dict[str, Float[Tensor, "..."]]
    """Attribution patching of the same sites, same layouts."""
    correlations: dict[str, float]
    top_heads: list[HeadId]
    """The heads whose output at the final position restores most of the logit difference."""
    paths: list[dict[str, Any]]
    """Path patching: each earlier strong head as sender into the top heads' queries."""
    attention: list[dict[str, Any]]
    """Per top head: mean attention from the final token to IO, S1 and S2."""
    seconds: dict[str, float]
    z_final_templates: Float[Tensor, "template layer head"] | None = None
    """Head outputs at the final position patched on each template in turn (template 0 is
    ``grids["z_final"]``): the templates are the replicates behind each head's interval."""
    template_rows: list[dict[str, Any]] = field(default_factory=list)
    """Per head among the top by mean over templates (and the top heads of template 0): each
    template's value, the mean, its standard error over templates, and in how many templates
    it is among the top heads."""

    @classmethod
    def _upgrade_v1(
        cls, tensors: dict[str, Tensor], data: dict[str, Any]
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        grids = {k.split(".", 1)[1]: k for k in tensors if k.startswith("exact.")}
        tensors, data = regroup_v1(tensors, data, "grids", grids)
        return tensors, {
            **data,
            "attribution": [k.split(".", 1)[1] for k in tensors if k.startswith("attribution.")],
        }

    def to_dataframe(self):  # noqa: ANN201 - pandas is optional at type-check time
        """One row per head: patching effect of its output at all positions and at the end."""
        import pandas as pd

        z_all, z_final = self.grids["z_all"], self.grids["z_final"]
        return pd.DataFrame(
            [
                {"layer": layer, "head": head, "z_all": float(z_all[layer, head]),
                 "z_final": float(z_final[layer, head])}
                for layer in range(z_all.shape[0])
                for head in range(z_all.shape[1])
            ]
        )  # fmt: skip


def _layout(result: PatchingResult, name: str) -> Tensor:
    if name == "resid_pre":
        return result.by_layer_pos()
    if name in ("attn_out", "mlp_out"):
        return result.normalised[:, None]
    return result.by_layer_head()


@torch.no_grad()
def behaviour(model, cfg: Config) -> list[dict[str, Any]]:  # noqa: ANN001 - a decoder
    """The logit difference IO - S, clean and corrupted, over every template."""
    rows = []
    for corruption in IoiCorruption:
        task = ioi_pairs(model, cfg.n_prompts, corruption)
        runs = task.runs(model)
        per_prompt = [
            logit_diffs(logits, task.answers, task.wrong, task.positions)
            for logits in (runs.clean.logits, runs.corrupted.logits)
        ]
        clean, clean_se = mean_and_sem(per_prompt[0])
        corrupted, corrupted_se = mean_and_sem(per_prompt[1])
        rows.append(
            {"corruption": corruption.value, "clean": clean, "clean_se": clean_se,
             "corrupted": corrupted, "corrupted_se": corrupted_se,
             "io_wins": float((per_prompt[0] > 0).float().mean()), "n": len(per_prompt[0])}
        )  # fmt: skip
    return rows


def run(cfg: Config) -> Outcome:
    """Measure, save (with each patching result under patching/) and write the report."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    model = load_model(cfg.model)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    rows = behaviour(model, cfg)
    seconds["behaviour"] = time.perf_counter() - start
    task = ioi_pairs(model, cfg.n_patch_prompts, IoiCorruption.ABC, template=0, seed=1)
    n_pos = task.clean.tokens.shape[1]
    final = int(task.positions[0])
    site_sets = {
        "resid_pre": every_site(Component.RESID_PRE, n_layers, n_pos=n_pos),
        "attn_out": every_site(Component.ATTN_OUT, n_layers),
        "mlp_out": every_site(Component.MLP_OUT, n_layers),
        "z_all": every_site(Component.Z, n_layers, n_heads=n_heads),
        "z_final": final_sites(model, final),
    }
    every = [s for sites in site_sets.values() for s in sites]
    runs = task.runs(model, names=patching_hooks(model, every))
    grids, attribution, correlations, saved = {}, {}, {}, {}
    for name, sites in site_sets.items():
        began = time.perf_counter()
        exact = activation_patching(runs, sites).with_provenance(cfg, cfg.model)  # tqdm bar
        seconds[f"patch {name} ({len(sites)} sites)"] = time.perf_counter() - began
        estimate = attribution_patching(runs, sites).with_provenance(cfg, cfg.model)
        saved[f"patching/{name}"], saved[f"patching/{name}_attribution"] = exact, estimate
        grids[name], attribution[name] = _layout(exact, name), _layout(estimate, name)
        correlations[name] = correlation(exact.normalised, estimate.normalised)
    z_final = grids["z_final"]
    order = z_final.flatten().nan_to_num(-1e9).argsort(descending=True).tolist()
    top = [HeadId(*divmod(i, n_heads)) for i in order[: cfg.top_heads]]
    began = time.perf_counter()
    paths = path_rows(runs, grids["z_all"], top, cfg.path_senders)
    seconds["path patching"] = time.perf_counter() - began
    attention = attention_rows(model, task, top)
    began = time.perf_counter()
    by_template = torch.stack(
        [z_final, *(final_heads(model, cfg, t) for t in range(1, cfg.templates))]
    )
    seconds[f"head outputs at the final position, {cfg.templates} templates"] = (
        time.perf_counter() - began + seconds[f"patch z_final ({len(site_sets['z_final'])} sites)"]
    )
    result = IoiResult(
        behaviour=rows,
        tokens=str_tokens(model, task.clean.unpadded(0).tolist()),
        grids=grids,
        attribution=attribution,
        correlations=correlations,
        top_heads=top,
        paths=paths,
        attention=attention,
        seconds=seconds,
        z_final_templates=by_template,
        template_rows=template_rows(by_template, top, cfg.top_heads),
    ).with_provenance(cfg, cfg.model)
    view = attention_patterns(model, task.clean)[0]
    return Outcome({"": result, **saved}, {"view": view})


def report(outcome: Outcome, cfg: Config) -> Report:  # noqa: ARG001 - Job contract
    """The page, with the first prompt's attention view."""
    return render(outcome.main, outcome.context["view"])  # pyright: ignore[reportArgumentType]


def _n_prompts(result: IoiResult) -> object:
    return (result.provenance.config or {}).get("n_patch_prompts", "?")


def final_sites(model, final: int) -> list[Site]:  # noqa: ANN001 - a decoder
    """Every head's output (``hook_z``) at position ``final``."""
    every = every_site(Component.Z, model.cfg.n_layers, n_heads=model.cfg.n_heads)
    return [Site(Component.Z, s.layer, s.head, final) for s in every]


def final_heads(model, cfg: Config, template: int) -> Tensor:  # noqa: ANN001 - a decoder
    """Every head's output at the final position patched (corrupted <- clean), one template."""
    task = ioi_pairs(model, cfg.n_patch_prompts, IoiCorruption.ABC, template=template, seed=1)
    sites = final_sites(model, int(task.positions[0]))
    runs = task.runs(model, names=patching_hooks(model, sites))
    return activation_patching(runs, sites, progress=False).by_layer_head()


def template_rows(by_template: Tensor, top: list[HeadId], k: int) -> list[dict[str, Any]]:
    """The top ``k`` heads by mean over templates, then template 0's top heads not among them."""
    n_templates, _, n_heads = by_template.shape
    mean = by_template.mean(0)
    order = mean.flatten().nan_to_num(-1e9).argsort(descending=True).tolist()
    heads = [HeadId(*divmod(i, n_heads)) for i in order[:k]]
    heads += [h for h in top if h not in heads]
    ranks = [set(grid.flatten().nan_to_num(-1e9).argsort(descending=True)[:k].tolist())
             for grid in by_template]  # fmt: skip
    rows = []
    for head in heads:
        values = by_template[:, head.layer, head.head]
        rows.append(
            {"head": str(head), "per_template": values.tolist(), "mean": float(values.mean()),
             "stderr": float(values.std() / n_templates**0.5) if n_templates > 1 else math.nan,
             "top_in": sum(head.layer * n_heads + head.head in r for r in ranks),
             "templates": n_templates}
        )  # fmt: skip
    return rows


def path_rows(
    runs,
    z_all: Tensor,
    receivers: list[HeadId],
    per_input: int = 5,  # noqa: ANN001
) -> list[dict[str, Any]]:
    """Senders chosen by attribution into the receivers' Q, K and V, then patched exactly.

    Every earlier head is screened at once per input (`path_attribution`, one backward pass);
    the ``per_input`` heads whose estimated path effect is largest are path-patched exactly.
    The senders are chosen by what they could do through that input, not by their total
    effect (heads with a small total effect can still feed a receiver).
    """
    rows = []
    for receiver_input in (Component.Q, Component.K, Component.V):
        estimate = path_attribution(runs, receivers, receiver_input)
        strength = (estimate - 1).abs().nan_to_num(-1).flatten()
        n_heads = estimate.shape[1]
        for i in strength.argsort(descending=True)[:per_input].tolist():
            sender = HeadId(*divmod(i, n_heads))
            path = path_patching(runs, [sender], receivers, receiver_input)
            rows.append(
                {"sender": str(sender), "input": receiver_input.name,
                 "normalised": path.normalised, "estimate": float(estimate[sender]),
                 "z_all": float(z_all[sender])}
            )  # fmt: skip
    return rows


@torch.no_grad()
def attention_rows(model, task, heads: list[HeadId]) -> list[dict[str, Any]]:  # noqa: ANN001
    """Mean attention of each head from the final token to IO (pos 1), S1 (3) and S2."""
    patterns = attention_patterns(model, task.clean)
    final = int(task.positions[0])
    tokens = task.clean.tokens
    s2 = [int((row == row[3]).nonzero()[-1]) for row in tokens]  # the repeated subject
    rows = []
    for head in heads:
        at = patterns[:, head.layer, head.head, final]
        batch = torch.arange(len(s2))
        rows.append(
            {"head": str(head), "io": float(at[:, 1].mean()), "s1": float(at[:, 3].mean()),
             "s2": float(at[batch, torch.tensor(s2)].mean())}
        )  # fmt: skip
    return rows


def render(result: IoiResult, view: Tensor) -> Report:
    """The page: behaviour, patching heatmaps, attribution agreement, paths, attention."""
    report = Report(f"Indirect object identification: {result.provenance.model}")
    report.paragraph(
        "Logit difference IO - S at the final position (Wang et al. 2022). Figures on SmolLM2 "
        "describe its 4-bit-dequantised weights. Patching is denoising on one template (ABC "
        "corruption): 0 = corrupted, 1 = clean."
    )
    report.table(
        ["corruption", "prompts", "clean", "± s.e.", "corrupted", "± s.e.", "IO wins"],
        [[r["corruption"], r["n"], r["clean"], r["clean_se"], r["corrupted"], r["corrupted_se"],
          r["io_wins"]] for r in result.behaviour],
    )  # fmt: skip
    labels = [f"{i} {t!r}" for i, t in enumerate(result.tokens)]
    layers = [f"L{i}" for i in range(result.grids["z_all"].shape[0])]
    heads = [f"H{h}" for h in range(result.grids["z_all"].shape[1])]
    shown = {
        "resid_pre": ("Residual stream by layer and position", labels, "position: token"),
        "z_all": ("Head outputs, all positions", heads, "head"),
        "z_final": ("Head outputs at the final position", heads, "head"),
    }
    for name, (title, columns, x_title) in shown.items():
        for source, grid in (
            ("exact", result.grids[name]),
            ("attribution", result.attribution[name]),
        ):
            report.figure(
                heatmap(grid.tolist(), x_labels=columns, y_labels=layers,
                        title=f"{title} ({source}; r = {result.correlations[name]:.2f})",
                        x_title=x_title, y_title="layer", value_name="normalised",
                        diverging=True, annotate=name != "resid_pre")
            )  # fmt: skip
    report.figure(
        heatmap(
            torch.cat([result.grids["attn_out"], result.grids["mlp_out"]], dim=1).T.tolist(),
            x_labels=layers, y_labels=["attn_out", "mlp_out"],
            title="Attention and MLP outputs by layer (all positions)", x_title="layer",
            y_title="component", value_name="normalised", diverging=True, annotate=False,
        )
    )  # fmt: skip
    if result.template_rows:
        n_templates = result.template_rows[0]["templates"]
        report.heading("The top heads across templates")
        report.paragraph(
            f"Head outputs at the final position patched on each of {n_templates} templates "
            f"({_n_prompts(result)} prompts each); the templates are the replicates: mean ± "
            "standard error over templates, and in how many templates the head is among the "
            f"top {len(result.top_heads)}."
        )
        report.table(
            ["head", "per template", "mean ± s.e.", "among the top in"],
            [[r["head"], ", ".join(f"{v:.2f}" for v in r["per_template"]),
              f"{r['mean']:.3f} ± {r['stderr']:.3f}", f"{r['top_in']} of {r['templates']}"]
             for r in result.template_rows],
        )  # fmt: skip
    report.heading("Path patching into the top heads")
    top = ", ".join(map(str, result.top_heads))
    report.paragraph(
        f"Receivers: {top}. Every earlier head is screened as a sender through each input by "
        "attribution (one backward pass: its corrupted-minus-clean output dotted with the "
        "metric's gradient at the receivers' own copy of that input); the strongest are then "
        "path-patched exactly, noising the sender's output on that path only."
    )
    report.table(
        ["sender", "receiver input", "normalised (0 = path carries it all)",
         "attribution estimate", "sender, all paths"],
        [[r["sender"], r["input"], r["normalised"], r.get("estimate", ""), r["z_all"]]
         for r in result.paths],
    )  # fmt: skip
    report.heading("Where the top heads look from the final token")
    report.table(
        ["head", "to IO", "to S1", "to S2"],
        [[r["head"], r["io"], r["s1"], r["s2"]] for r in result.attention],
    )
    report.view(
        attention_heads_view(
            result.tokens,
            view[[h.layer for h in result.top_heads], [h.head for h in result.top_heads]],
            [str(h) for h in result.top_heads],
            causal=True,
        )
    )
    report.table(["step", "seconds"], [[k, v] for k, v in result.seconds.items()])
    return report
