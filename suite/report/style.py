"""Series styles of the report figures: a distinct (colour, marker) pair for every series.

Colours are matplotlib's ``tab10`` qualitative palette (Vega category10), markers a list of
nine shapes. Series ``i`` gets colour ``i mod 10`` and marker ``i mod 9``; as 10 and 9 are
coprime, the pairs of series 0-89 are all different (the Chinese remainder theorem), and two
consecutive series differ in both colour and marker. Series 90 and beyond repeat a pair but
get another line style, so no two series of a figure look alike.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SeriesStyle", "series_styles", "MARKERS", "MAX_DISTINCT_PAIRS"]

#: Marker shapes, in order (9 of them: coprime with the 10 colours).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")
#: Line styles of the repeated cycles (series 90-179 get the second, ...).
_LINESTYLES = ("-", "--", ":", "-.")
_N_COLOURS = 10
#: Series that get distinct (colour, marker) pairs.
MAX_DISTINCT_PAIRS = _N_COLOURS * len(MARKERS)


@dataclass(frozen=True)
class SeriesStyle:
    """Style of one series: ``color`` (RGB tuple, 0-1), ``marker``, ``linestyle``."""

    color: tuple
    marker: str
    linestyle: str = "-"

    def kwargs(self) -> dict:
        """Keyword arguments for ``Axes.plot`` / ``Axes.errorbar``."""
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}


def series_styles(n: int) -> list[SeriesStyle]:
    """Styles of ``n`` series of one figure (see the module docstring).

    Examples
    --------
    >>> s = series_styles(14)
    >>> len({(x.color, x.marker) for x in s})
    14
    >>> s[0].marker, s[10].marker, s[0].color == s[10].color
    ('o', 's', True)
    """
    if n < 0:
        raise ValueError(f"series_styles: `n` must be >= 0; got {n}")
    from matplotlib import colormaps

    colours = colormaps["tab10"].colors
    return [SeriesStyle(color=tuple(colours[i % _N_COLOURS]), marker=MARKERS[i % len(MARKERS)],
                        linestyle=_LINESTYLES[(i // MAX_DISTINCT_PAIRS) % len(_LINESTYLES)])
            for i in range(n)]
