"""The SmolLM2 attribution graphs findings page's numbers, read from a saved run."""

from typing import Any

from experiments.smollm_graphs.analysis import SmolGraphs


def _transcoders(rows: list[dict[str, Any]]) -> str:
    lines = ["| layer | explained variance | L0 | dead | loss clean | spliced | recovered |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['layer']} | {r['explained_variance']:.3f} | {r['l0']:.1f} | "
                     f"{r['dead_fraction']:.2f} | {r['loss_clean']:.3f} | {r['loss_spliced']:.3f} "
                     f"| {r['loss_recovered_zero']:.3f} |")  # fmt: skip
    return "\n".join(lines)


def _graphs(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | prompt (end) | target | value | active features | kept nodes | edges | "
             "replacement (explored / pruned) | completeness (explored / pruned) | r total | "
             "r direct | r in the replacement | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for g in rows:
        s = g["scores"]
        lines.append(
            f"| {g['task']} | `{g['prompt'][-36:]!r}` | `{g['target']}` | {g['value']:.2f} | "
            f"{g['n_active']:,} | {g['n_nodes']} | {g['n_edges']:,} | "
            f"{s['replacement_explored']:.2f} / {s['replacement_pruned']:.2f} | "
            f"{s['completeness_explored']:.2f} / {s['completeness_pruned']:.2f} | "
            f"{g['r_total']:+.2f} | {g['r_direct']:+.2f} | {g['r_replacement']:+.2f} | "
            f"{g['seconds']:.0f} |"
        )
    return "\n".join(lines)


def _top(g: dict[str, Any], n: int = 8) -> str:
    lines = ["| node | label | influence | direct | total |", "|---|---|---|---|---|"]
    for f in g["top"][:n]:
        label = f["label"].replace("|", "\\\\|")
        lines.append(f"| `{f['node']}` | {label} | {f['influence']:.4f} | {f['direct']:+.3f} | "
                     f"{f['total']:+.3f} |")  # fmt: skip
    return "\n".join(lines)


def _shares(values: list[float], labels: list[str]) -> str:
    return ", ".join(f"`{label!r}` {v:.2f}" for label, v in zip(labels, values, strict=True))


def _layers(values: list[float]) -> str:
    groups = [(f"{a}-{min(a + 4, len(values) - 1)}", sum(values[a : a + 5]))
              for a in range(0, len(values), 5)]  # fmt: skip
    return ", ".join(f"{name} {v:.2f}" for name, v in groups)


def _path(g: dict[str, Any], pos: int) -> str:
    found = g["paths"].get(f"emb@{pos}")
    if not found:
        return "none kept"
    return " -> ".join(f"`{n}`" for n in found["path"]) + f" (weight {found['value']:.2e})"


def _pooled(pooled: dict[str, dict[str, Any]]) -> str:
    lines = ["| task | features | r, real model (95 % interval) | r, direct effect only | "
             "r, attention frozen | r, in the replacement | r, layers 0-9 (n) | "
             "r, layers 20-29 (n) | r at half the activation, real / replacement |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for task, p in pooled.items():
        lines.append(
            f"| {task} | {p['n']} | {p['r_total']:+.2f} ({p['low']:+.2f} to {p['high']:+.2f}) | "
            f"{p['r_direct']:+.2f} | {p['r_frozen']:+.2f} | {p['r_replacement']:+.2f} | "
            f"{p['r_early']:+.2f} ({p['n_early']}) | {p['r_late']:+.2f} ({p['n_late']}) | "
            f"{p['r_half']:+.2f} / {p['r_half_replacement']:+.2f} |"
        )
    return "\n".join(lines)


def findings(result: SmolGraphs) -> dict[str, str]:
    """Every number ``docs/findings/templates/smollm-graphs.md`` shows, by name."""
    t = result.transcoders
    ev = [r["explained_variance"] for r in t]
    recovered = [r["loss_recovered_zero"] for r in t]
    values: dict[str, str] = {
        "n_layers": str(len(t)),
        "transcoder_table": _transcoders(t),
        "ev_min": f"{min(ev):.2f}", "ev_max": f"{max(ev):.2f}",
        "ev_mean": f"{sum(ev) / len(ev):.2f}",
        "recovered_min": f"{min(recovered):.2f}",
        "recovered_mean": f"{sum(recovered) / len(t):.2f}",
        "l0_mean": f"{sum(r['l0'] for r in t) / len(t):.0f}",
        "graph_table": _graphs(result.graphs),
        "peak_gb": f"{result.peak_rss_gb:.2f}",
    }  # fmt: skip
    for task, p in result.pooled.items():
        values |= {f"{task}_{key}": f"{p[key]:.2f}"
                   for key in ("r_total", "low", "high", "r_direct", "r_frozen", "r_replacement",
                               "r_early", "r_late", "r_half", "r_half_replacement")}  # fmt: skip
        values |= {f"{task}_{key}": str(p[key]) for key in ("n", "n_early", "n_late")}
    values["pooled_table"] = _pooled(result.pooled)
    for task in ("facts", "ioi", "induction"):
        first = next((g for g in result.graphs if g["task"] == task), None)
        if first is None:
            continue
        tokens = first["tokens"]
        values |= {
            f"{task}_prompt": "".join(tokens), f"{task}_target": first["target"],
            f"{task}_value": f"{first['value']:.2f}", f"{task}_top": _top(first),
            f"{task}_positions": _shares(first["position_share"], tokens),
            f"{task}_layers": _layers(first["layer_share"]),
            f"{task}_nodes": str(first["n_nodes"]), f"{task}_active": f"{first['n_active']:,}",
        }  # fmt: skip
        for pos in range(1, len(tokens)):
            values[f"{task}_path_{pos}"] = _path(first, pos)
        values[f"{task}_last_share"] = f"{first['position_share'][-1]:.2f}"
        answer = first["target"].split("'")[1]  # logit('TOKEN') ...
        if answer in tokens[:-1]:
            copy = tokens.index(answer)
            values[f"{task}_copy_pos"] = str(copy)
            values[f"{task}_copy_share"] = f"{first['position_share'][copy]:.2f}"
    worst = min(t, key=lambda r: r["loss_recovered_zero"])
    values |= {"worst_layer": str(worst["layer"]),
               "worst_recovered": f"{worst['loss_recovered_zero']:.2f}",
               "worst_ev": f"{worst['explained_variance']:.2f}",
               "worst_l0": f"{worst['l0']:.1f}"}  # fmt: skip
    return values
