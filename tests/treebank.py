"""A small made-up CoNLL-U treebank for command tests (not UD data): fixed sentence shapes,
words varied, two genres, so every probing task has several classes."""

from pathlib import Path

DETS = ("the", "a", "this", "every")
NOUNS = ("cat", "dog", "bird", "child", "teacher", "car", "house", "tree")
VERBS = ("saw", "liked", "found", "heard", "chased", "built")
ADJS = ("small", "red", "old", "happy")
GENRES = ("email", "reviews")


def _sentence(i: int) -> list[tuple[str, str, int, str]]:
    """(word, UPOS, head as 1-based id or 0, relation) rows of sentence ``i``."""
    d1, d2 = DETS[i % 4], DETS[(i + 1) % 4]
    n1, n2 = NOUNS[i % 8], NOUNS[(i * 3 + 1) % 8]
    verb, adj = VERBS[i % 6], ADJS[i % 4]
    if i % 2:  # DET ADJ NOUN VERB DET NOUN .
        return [(d1, "DET", 3, "det"), (adj, "ADJ", 3, "amod"), (n1, "NOUN", 4, "nsubj"),
                (verb, "VERB", 0, "root"), (d2, "DET", 6, "det"), (n2, "NOUN", 4, "obj"),
                (".", "PUNCT", 4, "punct")]  # fmt: skip
    return [(d1, "DET", 2, "det"), (n1, "NOUN", 3, "nsubj"), (verb, "VERB", 0, "root"),
            (d2, "DET", 5, "det"), (n2, "NOUN", 3, "obj"), (".", "PUNCT", 3, "punct")]  # fmt: skip


def _long_sentence(i: int, clauses: int) -> list[tuple[str, str, int, str]]:
    """Sentences ``i, i + 1, ...`` in a row; later clauses' roots are parataxis of the first."""
    first = _sentence(i)
    root = next(k for k, row in enumerate(first, 1) if row[2] == 0)
    rows = list(first)
    for k in range(1, clauses):
        shift = len(rows)
        rows += [(word, tag, root, "parataxis") if head == 0 else (word, tag, head + shift, rel)
                 for word, tag, head, rel in _sentence(i + k)]  # fmt: skip
    return rows


def write_treebank(path: Path, n: int = 40, offset: int = 0, clauses: int = 1) -> Path:
    """``n`` sentences (from sentence ``offset`` on) in CoNLL-U at ``path``; each sentence is
    ``clauses`` clauses long (one clause: 6 or 7 words)."""
    blocks = []
    for i in range(offset, offset + n):
        rows = _long_sentence(i, clauses) if clauses > 1 else _sentence(i)
        lines = [f"# sent_id = {GENRES[i % 2]}-{i:04d}",
                 f"# text = {' '.join(w for w, *_ in rows)}"]  # fmt: skip
        lines += [f"{k}\t{w}\t{w}\t{tag}\t_\t_\t{head}\t{rel}\t_\t_"
                  for k, (w, tag, head, rel) in enumerate(rows, 1)]  # fmt: skip
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n\n")
    return path
