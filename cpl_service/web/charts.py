"""Charts drawn on the server as inline SVG: no script, no style attributes, no library.

The markup passes the pages' Content-Security-Policy (it uses presentation attributes such
as `fill`, never `style=`), and is accessible: `role="img"` named by its `<title>` and
`<desc>`, every segment titled with its figures, a legend in text, and each series drawn
with a pattern as well as a colour so colour is never the only cue. Every page that shows a
chart also shows its figures as a table. All text is escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Okabe-Ito: told apart by people with the common colour-vision deficiencies.
PALETTE: tuple[str, ...] = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
)
# A mark drawn over each colour (in an 8x8 tile), light on dark colours, dark on light.
_MARKS: tuple[str, ...] = (
    "",
    "M0 8L8 0M-2 2L2 -2M6 10L10 6",
    "M2 2h1.5v1.5h-1.5zM6 6h1.5v1.5h-1.5z",
    "M0 2H8M0 6H8",
    "M0 8L8 0M0 0L8 8",
    "M2 0V8M6 0V8",
    "M0 0L8 8M-2 6L2 10M6 -2L10 2",
    "M0 4H8M4 0V8",
)
_LIGHT = frozenset({"#e69f00", "#56b4e9", "#f0e442", "#cc79a7", "#009e73"})
INK = "#1b1b1b"
GRID = "#b1b4b6"

PLOT_HEIGHT = 240
SLOT = 34
BAR_WIDTH = 24
LEFT = 48
RIGHT = 16
TOP = 24
LABEL_BAND = 64
LEGEND_ROW = 22
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"

_ID = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


@dataclass(frozen=True)
class Series:
    """One stacked series: its label (for the legend) and a value per category.

    `look` picks its colour and pattern (default: its position), so a thing keeps its look
    from one chart to the next even when other series come and go.
    """

    label: str
    values: Sequence[int]
    look: int | None = None


def nice_scale(largest: int) -> tuple[int, int]:
    """(top of the axis, step between ticks): a 1-2-5 step, at most five ticks above 0."""
    if largest <= 0:
        return 1, 1
    for magnitude in (10**k for k in range(0, 12)):
        for factor in (1, 2, 5):
            step = factor * magnitude
            if math.ceil(largest / step) <= 5:
                return step * math.ceil(largest / step), step
    raise ValueError("value too large to chart")


def series_fill(chart_id: str, index: int) -> str:
    """The fill a series' segments and legend swatch use (a pattern over its colour)."""
    return f"url(#{chart_id}-s{index})"


def _pattern(chart_id: str, index: int, look: int) -> str:
    colour = PALETTE[look % len(PALETTE)]
    mark = _MARKS[look % len(_MARKS)]
    over = INK if colour in _LIGHT else "#ffffff"
    path = f'<path d="{mark}" stroke="{over}" fill="{over}" stroke-width="1.5"/>' if mark else ""
    return (
        f'<pattern id="{chart_id}-s{index}" width="8" height="8" patternUnits="userSpaceOnUse">'
        f'<rect width="8" height="8" fill="{colour}"/>{path}</pattern>'
    )


def _legend(chart_id: str, series: Sequence[Series], width: int, top: int) -> tuple[str, int]:
    """The legend's markup and its height, wrapping items to the chart's width."""
    parts = ['<g class="legend">']
    x, y = LEFT, top
    for index, one in enumerate(series):
        item = 22 + 7 * len(one.label) + 18
        if x > LEFT and x + item > width - RIGHT:
            x, y = LEFT, y + LEGEND_ROW
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{series_fill(chart_id, index)}"'
            f' stroke="{INK}" stroke-width="1"/>'
            f'<text x="{x + 20}" y="{y + 11}">{escape(one.label)}</text>'
        )
        x += item
    parts.append("</g>")
    return "".join(parts), (y - top) + LEGEND_ROW


def stacked_bars_svg(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
) -> Markup:
    """A stacked bar chart: one bar per category, one segment per series with a value.

    Args:
        chart_id: a prefix for the ids inside the SVG, unique on its page (`[a-z][a-z0-9-]*`).
        title: the chart's accessible name (its `<title>`).
        description: what it shows, in words (its `<desc>`).
        categories: the label under each bar, in order.
        series: the stacked series, bottom first; each has one value per category.

    Returns:
        The `<svg>` element, every text escaped, ready to place in a page.

    Raises:
        ValueError: a bad `chart_id`, a series whose length is not the number of
            categories, or a negative value.
    """
    if not _ID.match(chart_id):
        raise ValueError(f"bad chart id {chart_id!r}")
    for one in series:
        if len(one.values) != len(categories):
            raise ValueError(f"series {one.label!r} has {len(one.values)} values")
        if any(v < 0 for v in one.values):
            raise ValueError(f"series {one.label!r} has a negative value")
    totals = [sum(one.values[i] for one in series) for i in range(len(categories))]
    scale, step = nice_scale(max(totals, default=0))
    width = LEFT + SLOT * len(categories) + RIGHT
    base = TOP + PLOT_HEIGHT
    legend, legend_height = _legend(chart_id, series, width, base + LABEL_BAND)
    height = base + LABEL_BAND + legend_height + 8

    def y_of(value: float) -> float:
        return base - value / scale * PLOT_HEIGHT

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc"'
        f' font-family="{FONT}" font-size="12" fill="{INK}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        "<defs>",
        *(_pattern(chart_id, i, i if s.look is None else s.look) for i, s in enumerate(series)),
        "</defs>",
        '<g class="axis">',
    ]
    for tick in range(0, scale + 1, step):
        y = round(y_of(tick), 2)
        out.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{width - RIGHT}" y2="{y}" stroke="{GRID}"'
            ' stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{tick}</text>'
        )
    out.append("</g>")
    for i, category in enumerate(categories):
        x = LEFT + SLOT * i + (SLOT - BAR_WIDTH) / 2
        label = escape(category)
        out.append(f'<g class="bar" data-category="{label}" data-total="{totals[i]}">')
        below = 0
        for index, one in enumerate(series):
            value = one.values[i]
            if value == 0:
                continue
            top = y_of(below + value)
            out.append(
                f'<rect x="{x}" y="{round(top, 2)}" width="{BAR_WIDTH}"'
                f' height="{round(y_of(below) - top, 2)}" fill="{series_fill(chart_id, index)}"'
                f' stroke="#ffffff" stroke-width="1" data-series="{escape(one.label)}"'
                f' data-value="{value}"><title>{label}, {escape(one.label)}: {value}</title></rect>'
            )
            below += value
        if totals[i]:
            out.append(
                f'<text x="{x + BAR_WIDTH / 2}" y="{round(y_of(totals[i]) - 4, 2)}"'
                f' text-anchor="middle">{totals[i]}</text>'
            )
        lx, ly = x + BAR_WIDTH / 2, base + 14
        out.append(
            f'<text x="{lx}" y="{ly}" text-anchor="end"'
            f' transform="rotate(-45 {lx} {ly})">{label}</text></g>'
        )
    out.append(
        f'<line x1="{LEFT}" y1="{base}" x2="{width - RIGHT}" y2="{base}" stroke="{INK}"'
        ' stroke-width="1.5"/>'
    )
    out.append(legend)
    out.append("</svg>")
    # Safe: every text and label above went through `escape`; the rest is our own markup.
    return Markup("".join(out))  # noqa: S704
