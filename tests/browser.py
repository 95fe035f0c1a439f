"""Render a saved report in headless Chromium, with no network, and check that it drew.

Used by the report tests: every circuitsvis root must hold the view React drew into it,
every plotly figure its SVG, no table cell a raw Python repr, and the console no errors.
Chromium is Debian's ``chromium``; without it the tests skip with a reason, except under
``CI=true``, where they fail.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str:
    """The Chromium binary, or skip (fail under CI) when there is none."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium not found (apt install chromium) to render reports"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Rendered:
    """What a page looked like once its scripts had run."""

    dom: str
    console_errors: list[str]
    empty_views: list[str]
    """Ids of circuitsvis roots with nothing drawn inside."""
    n_views: int
    n_figures: int
    n_drawn_figures: int
    repr_cells: list[str]
    """Table cells that hold a raw Python list, tuple, dict or tensor repr."""


class _Roots(HTMLParser):
    """Counts what each circuitsvis root and plotly figure div holds."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.children: dict[str, int] = {}
        self.figures: dict[str, bool] = {}
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id") or ""
        for _, owner in self.stack:
            if owner is not None and owner in self.children:
                self.children[owner] += 1
            if owner is not None and owner in self.figures and tag == "svg":
                self.figures[owner] = True
        owner = None
        if ident.startswith("circuits-vis-"):
            self.children[ident] = 0
            owner = ident
        elif ident.startswith("figure-"):
            self.figures[ident] = False
            owner = ident
        if tag not in {"br", "img", "input", "meta", "link", "hr", "path", "rect", "circle",
                       "line", "stop", "use", "image"}:  # fmt: skip
            self.stack.append((tag, owner))
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


REPR = re.compile(r"^(\[.*\]|\(.*,.*\)|\{.*:.*\}|tensor\(.*)$", re.DOTALL)


def render(page: Path, wait_ms: int = 8000) -> Rendered:
    """Load ``page`` in headless Chromium (no network) and read the drawn DOM."""
    command = [
        browser(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
        "--v=0", f"--virtual-time-budget={wait_ms}", "--proxy-server=127.0.0.1:9",
        "--dump-dom", page.resolve().as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    errors = [
        line for line in done.stderr.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line or "error" in line)
    ]  # fmt: skip
    roots = _Roots()
    roots.feed(done.stdout)
    return Rendered(
        dom=done.stdout,
        console_errors=errors,
        empty_views=[ident for ident, n in roots.children.items() if n == 0],
        n_views=len(roots.children),
        n_figures=len(roots.figures),
        n_drawn_figures=sum(roots.figures.values()),
        repr_cells=[cell for cell in roots.cells if REPR.match(cell)],
    )


def assert_drew(page: Path, *, views: int | None = None, figures: int | None = None) -> Rendered:
    """Render ``page`` and fail unless every view and figure drew and nothing is broken."""
    shown = render(page)
    assert shown.dom, f"Chromium rendered nothing for {page}"
    assert not shown.empty_views, f"{len(shown.empty_views)} of {shown.n_views} views are empty"
    assert shown.n_drawn_figures == shown.n_figures, (
        f"{shown.n_figures - shown.n_drawn_figures} of {shown.n_figures} figures did not draw"
    )
    assert not shown.repr_cells, f"raw Python in table cells: {shown.repr_cells[:3]}"
    assert not shown.console_errors, f"console errors: {shown.console_errors[:3]}"
    if views is not None:
        assert shown.n_views == views
    if figures is not None:
        assert shown.n_figures == figures
    return shown
