"""Text corpora as byte arrays, split into training and held-out text.

Default corpus: the Python standard library's source files of the running interpreter (real
text on every machine that nobody here wrote, about 30 MB). Any files or directories of text
can be given instead; directories are read recursively, files in sorted order. A CoNLL-U
treebank (``.conllu``) contributes its sentences' text, one per line. The last
``held_out_fraction`` of the files (at least one) is held out, so held-out text is never
seen in training; or the held-out files are named explicitly (a treebank's dev split, say).
"""

import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import UInt8

from mechscope.core.errors import MechscopeError
from mechscope.data.conllu import conllu_text

TEXT_SUFFIXES = {
    ".conllu",
    ".py",
    ".txt",
    ".md",
    ".rst",
    ".json",
    ".toml",
    ".cfg",
    ".html",
    ".c",
    ".h",
}
MAX_CONTROL_FRACTION = 0.01
"""Share of NUL and other non-whitespace control bytes above which a file counts as binary."""


class CorpusError(MechscopeError):
    """A corpus that cannot be trained on."""


@dataclass(frozen=True)
class Corpus:
    """Training and held-out text, as bytes (token ids 0..255)."""

    train: UInt8[np.ndarray, " n_train"]
    held_out: UInt8[np.ndarray, " n_held_out"]
    sources: tuple[str, ...]
    """The files read, in order."""

    def check_fits(self, n_ctx: int) -> None:
        """Raise `CorpusError` if either split is shorter than one context."""
        for name, data in (("training", self.train), ("held-out", self.held_out)):
            if len(data) < n_ctx:
                raise CorpusError(
                    f"the {name} text has {len(data)} bytes, fewer than one context of {n_ctx}; "
                    "give a larger corpus or a smaller --n-ctx."
                )


def default_corpus_paths() -> list[Path]:
    """The running interpreter's standard-library ``.py`` files, sorted."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return sorted(
        p
        for p in stdlib.rglob("*.py")
        if "site-packages" not in p.parts and "test" not in p.parts and p.is_file()
    )


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named directly, plus text files found recursively under directories."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"corpus path {path} does not exist; check the path.")
    return files


def is_binary(data: bytes) -> bool:
    """Whether ``data`` looks like a binary file rather than text."""
    if not data:
        return False
    control = sum(data.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    return control / len(data) > MAX_CONTROL_FRACTION


def read_text(file: Path) -> bytes:
    """A file's bytes; a CoNLL-U treebank's sentence texts, one per line."""
    if file.suffix == ".conllu":
        return conllu_text(file)
    return file.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM is not text


def load_corpus(
    paths: Sequence[str | Path] | None = None,
    held_out_fraction: float = 0.05,
    *,
    held_out: Sequence[str | Path] | None = None,
) -> Corpus:
    """Read a corpus (default: the standard library) and split off held-out text.

    With ``held_out`` given, those files are the held-out text and ``paths`` all train;
    otherwise the last ``held_out_fraction`` of the files is held out.

    Raises:
        CorpusError: no files, empty text, or only binary files.
    """
    if held_out is not None:
        train, held = load_corpus(paths, 0.0), load_corpus(held_out, 0.0)
        return Corpus(train.train, held.train, train.sources + held.sources)
    files = default_corpus_paths() if paths is None else expand_paths(paths)
    texts, sources, skipped = [], [], []
    for file in files:
        data = read_text(file)
        if is_binary(data):
            skipped.append(file)
        elif data:
            texts.append(data)
            sources.append(str(file))
    if not texts:
        why = f"all {len(skipped)} file(s) look binary" if skipped else "no text was found"
        raise CorpusError(
            f"the corpus is empty: {why} in {', '.join(map(str, paths or ['the stdlib']))}. "
            "Give text files or directories that contain them."
        )
    if held_out_fraction == 0:
        n_held = 0
    else:
        n_held = max(1, round(len(texts) * held_out_fraction)) if len(texts) > 1 else 0
    train = b"\n".join(texts[: len(texts) - n_held])
    held = b"\n".join(texts[len(texts) - n_held :])
    if n_held == 0 and held_out_fraction > 0:  # a single file: hold out its tail instead
        cut = int(len(train) * (1 - held_out_fraction))
        train, held = train[:cut], train[cut:]
    as_array = lambda b: np.frombuffer(b, dtype=np.uint8).copy()  # noqa: E731
    return Corpus(as_array(train), as_array(held), tuple(sources))
