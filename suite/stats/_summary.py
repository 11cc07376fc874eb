"""One table model for every ``summary()``: a title, rows, numbered notes; three renderings.

Results objects build a :class:`SummaryTable` and render it; nothing here computes statistics
and nothing has side effects (STYLE R8).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from suite._validation import check_option

FORMATS = ("text", "markdown", "html")


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
