"""Event counts over time as small server-rendered SVG bar charts (no script, no library).

Pure: a series of `(unix_ts, count)` pairs, oldest first (issues.stats), in; SVG markup
out. Every piece of text in the markup is escaped here, so a view may mark it safe.
Colours come from app.css classes (light and dark), never inline styles: the CSP
allows no inline style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from tracehound.web.text import plural

Series = Sequence[tuple[int, int]]

DAY = 86400


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    ts: int
    count: int


def bars(series: Series, width: float, height: float, gap: float = 1.0) -> list[Bar]:
    """One bar per point, scaled so the largest count fills `height`.

    A non-zero count is at least one unit tall, so one event beside a million still shows.
    """
    if not series:
        return []
    slot = width / len(series)
    top = max(max(count for _, count in series), 1)
    result = []
    for index, (ts, raw) in enumerate(series):
        count = max(raw, 0)
        h = height * count / top
        if count and h < 1:
            h = 1.0
        result.append(
            Bar(
                x=round(index * slot, 2),
                y=round(height - h, 2),
                width=round(max(slot - gap, 0.5), 2),
                height=round(h, 2),
                ts=ts,
                count=count,
            )
        )
    return result


def bucket_label(ts: int, step: int) -> str:
    """`2026-12-01 07:00 UTC` for hourly buckets, `2026-12-01` for daily ones."""
    try:
        moment = datetime.fromtimestamp(ts, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return "?"
    return moment.strftime("%Y-%m-%d") if step >= DAY else moment.strftime("%Y-%m-%d %H:%M UTC")


def step_of(series: Series) -> int:
    return series[1][0] - series[0][0] if len(series) > 1 else DAY


def svg_start(kind: str, width: int, height: int, title: str, baseline: float) -> list[str]:
    """The opening of a chart: its box, its accessible title and the zero line."""
    title = escape(title)
    return [
        f'<svg class="{kind}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img" aria-label="{title}">',
        f"<title>{title}</title>",
        f'<line class="axis" x1="0" y1="{baseline}" x2="{width}" y2="{baseline}"/>',
    ]


def rect(bar: Bar, tip: str = "") -> str:
    box = f'class="bar" x="{bar.x}" y="{bar.y}" width="{bar.width}" height="{bar.height}"'
    return f"<rect {box}><title>{escape(tip)}</title></rect>" if tip else f"<rect {box}/>"


def bar_chart(series: Series, *, width: int = 640, height: int = 80, label: str = "") -> str:
    """A bar chart with a tooltip per bar, the peak count and the time range as text."""
    plot = height - 16  # room for the time axis labels below the bars
    step = step_of(series)
    total = sum(max(count, 0) for _, count in series)
    title = f"{label}: {plural(total, 'event')}" if label else plural(total, "event")
    parts = svg_start("chart", width, height, title, plot)
    for bar in bars(series, width, plot):
        parts.append(rect(bar, f"{bucket_label(bar.ts, step)}: {plural(bar.count, 'event')}"))
    if series:
        peak = max(max(count, 0) for _, count in series)
        parts.append(f'<text class="peak" x="2" y="10">{peak:,}</text>')
        first, last = bucket_label(series[0][0], step), bucket_label(series[-1][0], step)
        parts.append(f'<text class="tick" x="0" y="{height - 3}">{escape(first)}</text>')
        parts.append(
            f'<text class="tick" x="{width}" y="{height - 3}" text-anchor="end">'
            f"{escape(last)}</text>"
        )
    else:
        parts.append(f'<text class="tick" x="0" y="{plot - 4}">no data</text>')
    parts.append("</svg>")
    return "".join(parts)


def sparkline(
    series: Series, *, width: int = 96, height: int = 24, period: str = "the last 24 hours"
) -> str:
    """The list's tiny chart: bars only, one tooltip for the whole period."""
    total = sum(max(count, 0) for _, count in series)
    parts = svg_start("sparkline", width, height, f"{plural(total, 'event')} in {period}", height)
    parts += [rect(bar) for bar in bars(series, width, height) if bar.count]
    parts.append("</svg>")
    return "".join(parts)
