"""The facts findings page's numbers, read from a saved run (`docs/findings.py`)."""

from collections import Counter

import torch

from experiments.smollm_facts.analysis import FactsLensResult
from mechscope.core import bootstrap_interval

FAR = 1000
"""A median rank above this counts as "nowhere near the output" for the table's first span."""


def findings(result: FactsLensResult) -> dict[str, str]:
    """Every number ``docs/findings/templates/smollm-facts.md`` shows, formatted, by name."""
    kept = result.kept
    relations = Counter(f["relation"] for f in result.facts)
    kept_by = Counter(f["relation"] for f in result.facts if f["kept"])
    summary = result.summary()
    medians = [row["median_rank"] for row in summary]
    # The table: the embeddings, one span for the blocks where the answer is still far, then
    # every boundary from the first one where the median rank is below FAR.
    near = next((b for b in range(1, len(medians)) if medians[b] < FAR), len(medians) - 1)
    columns: list[tuple[str, list[int]]] = [("embeddings", [0])]
    if near > 1:
        columns.append((f"after block 0-{near - 2}", list(range(1, near))))
    columns += [(result.labels[b].replace("after block ", "after "), [b])
                for b in range(near, len(medians))]  # fmt: skip
    columns[-1] = (f"{columns[-1][0]} (output)", columns[-1][1])

    def cells(key: str, fmt: str) -> str:
        out = []
        for _, boundaries in columns:
            values = [summary[b][key] for b in boundaries]
            low, high = min(values), max(values)
            out.append(format(low, fmt) if len(values) == 1 else
                       f"{format(low, fmt)}-{format(high, fmt)}")  # fmt: skip
        return " | ".join(out)

    table = "\n".join([
        "| boundary | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
        f"| median rank of the answer | {cells('median_rank', ',.0f')} |",
        f"| mean probability | {cells('prob', '.3f')} |",
        f"| KL(final \\|\\| lens), nats | {cells('kl', '.1f')} |",
    ])  # fmt: skip
    top10 = torch.tensor(result.first_boundary(10)).float()
    top1 = torch.tensor(result.first_boundary(1)).float()
    q25, q50, q75 = top10.quantile(torch.tensor([0.25, 0.5, 0.75])).tolist()
    low, high = bootstrap_interval(top10)
    return {
        "n_facts": str(len(result.facts) + sum(result.skipped.values())),
        "n_relations": str(len(relations)),
        "n_single": str(len(result.facts)),
        "n_kept": str(int(kept.sum())),
        "capitals": f"{kept_by['capital']} of {relations['capital']}",
        "table": table,
        "top10_median": f"{q50:g}",
        "top10_where": _label(result, int(q50)),
        "top10_q25": f"{q25:g}",
        "top10_q25_where": _label(result, int(q25)),
        "top10_quartiles": f"{q25:g}-{q75:g}",
        "top10_interval": f"{low:g}-{high:g}",
        "top1_median": f"{top1.median():g}",
        "top1_where": _label(result, int(top1.median())),
        "france": _france(result),
        "silent": str(near - 1),
        "silent_until": _label(result, near - 1),
    }


def _label(result: FactsLensResult, boundary: int) -> str:
    label = result.labels[boundary]
    return "the output" if boundary == len(result.labels) - 1 else label


def _france(result: FactsLensResult) -> str:
    """The lens's top-1 token by boundary, as runs, and where ' Paris' appears and leads."""
    runs: list[tuple[str, int, int]] = []
    for b, top in enumerate(result.france_top):
        token = top[0][0]
        if runs and runs[-1][0] == token:
            runs[-1] = (token, runs[-1][1], b)
        else:
            runs.append((token, b, b))
    spans = ", ".join(f"{token!r} ({_span(result, start, end)})" for token, start, end in runs)
    tokens = [[t for t, _ in top] for top in result.france_top]
    seen = [(b, row.index(" Paris") + 1) for b, row in enumerate(tokens) if " Paris" in row]
    if not seen:
        return f"its top-1 token runs {spans}; ' Paris' never enters its top list"
    first, place = seen[0]
    return (f"its top-1 token runs {spans}; ' Paris' first appears #{place} "
            f"{_label(result, first)}")  # fmt: skip


def _span(result: FactsLensResult, start: int, end: int) -> str:
    names = [_label(result, start), _label(result, end)]
    return names[0] if start == end else f"{names[0]} to {names[1]}"
