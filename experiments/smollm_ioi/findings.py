"""The IOI findings page's numbers, read from a saved run (`docs/findings.py` renders them)."""

from typing import Any

from experiments.smollm_ioi.analysis import IoiResult
from mechscope.core import HeadId


def findings(result: IoiResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/smollm-ioi.md`` shows, formatted, by name."""
    config: dict[str, Any] = result.provenance.config or {}
    rows = {r["corruption"]: r for r in result.behaviour}
    abc, swap = rows["abc"], rows["swap"]
    resid = result.grids["resid_pre"]  # layer pos: 0 = the corrupted run, 1 = the clean one
    io_position, final = 1, resid.shape[1] - 1
    at_io = [layer for layer in range(resid.shape[0]) if float(resid[layer, io_position]) >= 0.9]
    at_final = [layer for layer in range(resid.shape[0]) if float(resid[layer, final]) >= 0.99]
    z_final = result.grids["z_final"].nan_to_num(0)
    n_heads = z_final.shape[1]
    order = z_final.flatten().argsort().tolist()
    negative = [HeadId(*divmod(i, n_heads)) for i in order[:2]]
    attention = {r["head"]: r for r in result.attention}
    top = [str(h) for h in result.top_heads]
    corr = result.correlations
    paths = result.paths
    strongest = max(paths, key=lambda r: abs(r["normalised"] - 1))
    agreement = max(abs(r["estimate"] - r["normalised"]) for r in paths)
    inputs = {"Q": "queries", "K": "keys", "V": "values"}
    seconds = {key.split(" (")[0]: value for key, value in result.seconds.items()}
    templates = result.template_rows
    n_templates = templates[0]["templates"] if templates else 1
    return {
        "n_prompts": str(config.get("n_prompts", abc["n"])),
        "n_patch_prompts": str(config.get("n_patch_prompts", "?")),
        "n_templates": str(n_templates),
        "clean": f"{abc['clean']:.2f} ± {abc['clean_se']:.2f}",
        "io_wins": f"{round(abc['io_wins'] * abc['n'])} of {abc['n']}",
        "abc": f"{abc['corrupted']:.2f} ± {abc['corrupted_se']:.2f}",
        "swap": f"{swap['corrupted']:.2f} ± {swap['corrupted_se']:.2f}",
        "io_until": str(max(at_io)) if at_io else "none",
        "final_from": str(min(at_final)) if at_final else "none",
        "top_heads": ", ".join(
            f"{h} ({float(z_final[h.layer, h.head]):.2f})" for h in result.top_heads
        ),  # fmt: skip
        "negative_heads": ", ".join(
            f"{h} ({float(z_final[h.layer, h.head]):.2f})" for h in negative
        ),  # fmt: skip
        "attention": "; ".join(
            f"{h} to IO {attention[h]['io']:.2f}, S1 {attention[h]['s1']:.2f}, "
            f"S2 {attention[h]['s2']:.2f}"
            for h in top
        ),
        "r_z_all": f"{corr['z_all']:.3f}",
        "r_z_final": f"{corr['z_final']:.3f}",
        "r_attn_out": f"{corr['attn_out']:.3f}",
        "r_mlp_out": f"{corr['mlp_out']:.3f}",
        "r_resid_pre": f"{corr['resid_pre']:.2f}",
        "receivers": ", ".join(top),
        "template_heads": ", ".join(
            f"{r['head']} {r['mean']:.3f} ± {r['stderr']:.3f} (top {r['top_in']} of "
            f"{r['templates']})"
            for r in templates
        )
        or "not measured (one template)",
        "path_count": str(len(paths)),
        "path_strongest": f"{abs(strongest['normalised'] - 1):.1%}",
        "path_strongest_sender": (
            f"{strongest['sender']} into the "
            f"{inputs[strongest['input']]}, {strongest['normalised']:.3f}"
        ),
        "path_agreement": f"{agreement:.3f}",
        "seconds_resid": f"{seconds.get('patch resid_pre', 0):.0f}",
        "seconds_heads": f"{seconds.get('patch z_all', 0):.0f}",
        "seconds_final": f"{seconds.get('patch z_final', 0):.0f}",
        "seconds_templates": f"{next((v for k, v in seconds.items() if 'templates' in k), 0):.0f}",
        "seconds_paths": f"{seconds.get('path patching', 0):.0f}",
        "seconds_total": f"{sum(seconds.values()) / 60:.1f}",
    }
