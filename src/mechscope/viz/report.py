"""A self-contained offline HTML report: headings, text, tables, plotly figures and views.

circuitsvis inlines its whole 1.3 MB JavaScript bundle into every view's ``local_src`` (and
``str(view)`` points at a CDN, which fails offline). The report strips the bundle out of each
view and includes it once, as a classic script that defines the global ``CircuitsVis`` the
views' own module scripts then call. Plotly figures are embedded as divs, with plotly.js
(about 4.6 MB) inlined once in the page head, so the page needs no network either.
"""

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import circuitsvis
import plotly.graph_objects as go
from circuitsvis.utils.render import RenderedHTML
from plotly.offline import get_plotlyjs

from mechscope.core.errors import MechscopeError

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
.note { color: #555; }
"""


SELF_CLOSING_ROOT = re.compile(r'<div\s+(id="circuits-vis-[^"]*"[^>]*?)\s*/>')
"""A circuitsvis view's root element as circuitsvis writes it."""


def circuitsvis_bundle() -> str:
    """The circuitsvis browser bundle, as circuitsvis itself inlines it."""
    bundle = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
    return bundle.read_text(encoding="utf-8").replace("</script>", "")


@dataclass(frozen=True)
class OfflineView:
    """A circuitsvis view that draws with no network: its bundle inlined, its root fixed.

    circuitsvis's own ``str(view)`` and notebook display load the bundle from a CDN, so
    offline they draw nothing. Display this in a notebook (``_repr_html_``), ``save`` it as
    a page, or take ``html`` to embed.
    """

    html: str
    """The view with the circuitsvis bundle inlined."""

    def _repr_html_(self) -> str:
        return self.html

    def save(self, path: str | Path, title: str = "circuitsvis view") -> Path:
        """Write a standalone page holding the view.

        Raises:
            MechscopeError: the file cannot be written.
        """
        path = Path(path)
        page = (
            "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>{self.html}</body></html>"
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page, encoding="utf-8")
        except OSError as error:
            raise MechscopeError(f"cannot write {path}: {error.strerror or error}.") from error
        return path


def offline(rendered: RenderedHTML) -> OfflineView:
    """Any circuitsvis view as an `OfflineView`, drawing without a network.

    E.g. ``offline(circuitsvis.attention.attention_patterns(tokens, pattern))``, displayed in
    a notebook or saved to a file.
    """
    return OfflineView(SELF_CLOSING_ROOT.sub(r"<div \1></div>", rendered.local_src))


class Report:
    """Builds one HTML page; `save` writes it with the circuitsvis bundle included once."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = []
        self._has_views = False
        self._n_figures = 0

    def heading(self, text: str, level: int = 2) -> None:
        """Add a section heading."""
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, *, note: bool = False) -> None:
        """Add a paragraph of plain text (escaped)."""
        cls = ' class="note"' if note else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Add a table; floats are shown with 3 decimals."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
            for row in rows
        )
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, figure: go.Figure, caption: str = "") -> str:
        """Add a plotly figure (from `mechscope.viz.figures`) with an optional caption.

        Returns its element id (for a script that listens to it).
        """
        div_id = f"figure-{self._n_figures}"
        div = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": False},
        )
        self._n_figures += 1
        caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f"<figure>{div}{caption_html}</figure>")
        return div_id

    def view(self, rendered: RenderedHTML) -> None:
        """Add a circuitsvis view (its bundle is stripped and included once at save time)."""
        bundle = circuitsvis_bundle()
        if bundle not in rendered.local_src:
            raise MechscopeError(
                "this circuitsvis version no longer inlines its bundle as expected; "
                "pin circuitsvis to a version mechscope supports (>=1.43,<2)."
            )
        # circuitsvis writes its root as a self-closing <div .../>, which HTML does not have:
        # everything after it would nest inside the root and be erased by the first render.
        source = SELF_CLOSING_ROOT.sub(r"<div \1></div>", rendered.local_src.replace(bundle, ""))
        self._parts.append(source)
        self._has_views = True

    def html(self, fragment: str) -> None:
        """Add a self-contained HTML fragment (a view from `mechscope.viz`, scripts inline)."""
        self._parts.append(fragment)

    def to_html(self) -> str:
        """The whole page as one string."""
        script = f"<script>{circuitsvis_bundle()}</script>" if self._has_views else ""
        if self._n_figures:
            script += f"<script>{get_plotlyjs()}</script>"
        return (
            "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style>{script}</head>"
            f"<body><h1>{html.escape(self.title)}</h1>\n"
            + "\n".join(self._parts)
            + "\n</body></html>"
        )

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (parent directories created).

        Raises:
            MechscopeError: the file cannot be written.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.to_html(), encoding="utf-8")
        except OSError as error:
            raise MechscopeError(
                f"cannot write report {path}: {error.strerror or error}."
            ) from error
        return path


def _cell(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
