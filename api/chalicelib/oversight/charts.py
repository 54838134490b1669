"""Charts as SVG text, written by hand: no plotting library, no fonts to embed.

One kind is enough for the reports: horizontal grouped bars of rates (0 to 100 %), one
group per category (a province, a provider), one bar per series (a figure). A missing rate
(nothing to divide by) is drawn as "—" with no bar. Colours are the Okabe-Ito palette, which
colour-blind readers can tell apart; the chart carries a <title> and <desc> for screen readers.
Text is escaped, so any provider name is safe to draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
FONT = "'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', sans-serif"
WIDTH = 760
LABEL_WIDTH = 200
VALUE_WIDTH = 56
BAR_HEIGHT = 14
GROUP_GAP = 10
LEGEND_TOP = 34
LEGEND_LINE = 16
BOTTOM = 28
TICKS = (0, 25, 50, 75, 100)


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # one per category, 0..1


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 12,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'font-weight="{weight}">{escape(content)}</text>')


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series]) -> str:
    """Grouped horizontal bars of rates; ``series[i].values[j]`` is category j's rate."""
    if any(len(one.values) != len(categories) for one in series):
        raise ValueError("each series needs one value per category")
    plot_width = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 16
    group = len(series) * BAR_HEIGHT + GROUP_GAP
    top = LEGEND_TOP + len(series) * LEGEND_LINE + 12
    height = top + max(1, len(categories)) * group + BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title desc" '
        f'font-family={quoteattr(FONT)}>',
        f'<title id="title">{escape(title)}</title>',
        f'<desc id="desc">{escape(_describe(categories, series))}</desc>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        _text(8, 22, title, size=15, weight="bold"),
    ]
    for index, one in enumerate(series):
        y = LEGEND_TOP + index * LEGEND_LINE
        parts.append(f'<rect class="legend" x="8" y="{y}" width="12" height="12" '
                     f'fill="{PALETTE[index % len(PALETTE)]}"/>')
        parts.append(_text(26, y + 10, one.name, size=11))
    bottom = top + len(categories) * group
    for tick in TICKS:
        x = LABEL_WIDTH + plot_width * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" '
                     f'stroke="#d0d0d0" stroke-width="1"/>')
        parts.append(_text(x, bottom + 16, f"{tick}%", anchor="middle", size=10))
    for row, category in enumerate(categories):
        y = top + row * group
        parts.append(_text(LABEL_WIDTH - 8, y + (group - GROUP_GAP) / 2 + 4, category, anchor="end"))
        for index, one in enumerate(series):
            value = one.values[row]
            bar_y = y + index * BAR_HEIGHT
            if value is not None:
                width = plot_width * min(max(value, 0.0), 1.0)
                parts.append(f'<rect class="bar" x="{LABEL_WIDTH}" y="{bar_y:.1f}" width="{width:.1f}" '
                             f'height="{BAR_HEIGHT - 2}" fill="{PALETTE[index % len(PALETTE)]}"/>')
            parts.append(_text(LABEL_WIDTH + plot_width + 6, bar_y + BAR_HEIGHT - 3, percent(value),
                               size=10))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _describe(categories: Sequence[str], series: Sequence[Series]) -> str:
    return "; ".join(
        f"{category}: " + ", ".join(f"{one.name} {percent(one.values[row])}" for one in series)
        for row, category in enumerate(categories))
