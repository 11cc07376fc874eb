"""One table model for every ``summary()``: a title, rows, numbered notes; three renderings.

Results objects (statistics, metrics, robustness, audit) format their numbers with
:func:`fmt` and build a :class:`SummaryTable`; nothing here computes statistics and nothing has
side effects (STYLE R8). Rendering is the only place that rounds.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np

from suite._validation import check_option

__all__ = ["SummaryTable", "FORMATS", "fmt", "fmt_interval"]

FORMATS = ("text", "markdown", "html")


def fmt(x, digits: int = 4) -> str:
    """Format one value for a summary table: ``digits`` significant digits for a real number,
    integers in full, ``yes``/``no`` for a bool, ``n/a`` for ``None`` and NaN.

    Examples
    --------
    >>> fmt(0.123456), fmt(12345), fmt(True), fmt(float("nan")), fmt(float("-inf"))
    ('0.1235', '12345', 'yes', 'n/a', '-inf')
    """
    if x is None:
        return "n/a"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def fmt_interval(iv) -> str:
    """Format a (lower, upper) pair as ``[lo, hi]`` (``""`` for ``None``)."""
    if iv is None:
        return ""
    return f"[{fmt(iv[0])}, {fmt(iv[1])}]"


@dataclass(frozen=True)
class SummaryTable:
    """A rendered-on-demand table: ``header`` and ``rows`` of strings plus numbered ``notes``."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def render(self, format: str = "text") -> str:
        """Return the table as ``"text"``, ``"markdown"`` or ``"html"``."""
        check_option(format, FORMATS, name="format", where="summary")
        if format == "markdown":
            return self._markdown()
        if format == "html":
            return self._html()
        return self._text()

    def _text(self) -> str:
        cols = list(zip(self.header, *self.rows)) if self.rows else [(h,) for h in self.header]
        widths = [max(len(c) for c in col) for col in cols]
        line = "  ".join("-" * w for w in widths)

        def row(cells):
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        out = [self.title, "=" * max(len(self.title), len(line)), row(self.header), line]
        out += [row(r) for r in self.rows]
        if self.notes:
            out += ["", "Notes:"] + [f"[{i}] {n}" for i, n in enumerate(self.notes, 1)]
        return "\n".join(out)

    def _markdown(self) -> str:
        out = [f"**{self.title}**", "", "| " + " | ".join(self.header) + " |",
               "|" + "|".join("---" for _ in self.header) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in self.rows]
        if self.notes:
            out += [""] + [f"{i}. {n}" for i, n in enumerate(self.notes, 1)]
        return "\n".join(out)

    def _html(self) -> str:
        esc = html.escape
        out = [f"<table>\n<caption>{esc(self.title)}</caption>",
               "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in self.header) + "</tr>"]
        out += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in self.rows]
        out.append("</table>")
        if self.notes:
            out.append("<ol>" + "".join(f"<li>{esc(n)}</li>" for n in self.notes) + "</ol>")
        return "\n".join(out)
