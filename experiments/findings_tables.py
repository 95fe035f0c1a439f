"""Markdown tables for the findings pages (`docs/findings.py`)."""


def markdown_table(rows: list[dict[str, str]]) -> str:
    """Rows of equal keys as a markdown table (the first row's keys as the header)."""
    columns = list(rows[0])
    return "\n".join([
        "| " + " | ".join(columns) + " |",
        "|---|" + "---|" * (len(columns) - 1),
        *("| " + " | ".join(row[c] for c in columns) + " |" for row in rows),
    ])  # fmt: skip
