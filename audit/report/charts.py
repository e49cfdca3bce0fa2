"""Inline SVG charts drawn here, for a page that loads nothing from anywhere.

Each function returns one `<svg>` element with a `viewBox`, so it scales to
the width of a phone or an A4 page; a `<title>` names it for screen readers.
Every label goes through `html.escape`. Colours come from `SERIES`, the same
in every chart and in the page's legend (allowed, denied, error).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 360
SERIES = {"allowed": "#2f6fb5", "denied": "#d9822b", "error": "#8a9099"}
FLAG = "#c62828"
TEXT = "#1f2329"
MUTED = "#646a73"
GRID = "#e4e7ec"


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: its label and a value per series."""

    label: str
    values: Sequence[int]


def _svg(height: float, title: str, body: str, *, width: int = WIDTH) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height:.0f}" role="img"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>'
    )


def _text(
    x: float, y: float, content: str, *, size: int = 11, fill: str = TEXT, **attrs: str
) -> str:
    """A text element; `attrs` names use `_` for `-` (text_anchor, font_weight)."""
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}"{extra}>'
        f"{escape(content)}</text>"
    )


def bar_chart(bars: Sequence[Bar], colours: Sequence[str], title: str) -> str:
    """Horizontal bars, one per row, each stacked from its series; label above, total right."""
    peak = max((sum(b.values) for b in bars), default=0) or 1
    row, left, span = 34, 4, WIDTH - 64
    parts = []
    for n, bar in enumerate(bars):
        top = n * row
        parts.append(_text(left, top + 12, bar.label, size=12))
        x = float(left)
        for value, colour in zip(bar.values, colours, strict=True):
            w = span * value / peak
            if value:
                w = max(w, 1.5)
                parts.append(
                    f'<rect x="{x:.1f}" y="{top + 16}" width="{w:.1f}" height="12"'
                    f' rx="2" fill="{colour}"/>'
                )
            x += w
        parts.append(_text(x + 6, top + 26, f"{sum(bar.values):,}", fill=MUTED))
    return _svg(max(len(bars), 1) * row + 2, title, "".join(parts))


def column_chart(
    labels: Sequence[str],
    stacks: Sequence[Sequence[int]],
    colours: Sequence[str],
    title: str,
    *,
    marked: frozenset[int] = frozenset(),
) -> str:
    """Stacked columns over days, a scale on the left; `marked` columns get a red dot above."""
    top, bottom, left, height = 14, 22, 34, 150
    peak = _nice(max((sum(s) for s in stacks), default=0))
    step = (WIDTH - left - 4) / max(len(stacks), 1)
    parts = []
    for tick in sorted({0, peak // 2, peak}):
        y = top + height - height * tick / peak
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 2}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        parts.append(
            _text(left - 4, y + 4, f"{tick:,}", size=9, fill=MUTED, text_anchor="end")
        )
    for n, stack in enumerate(stacks):
        x, y = left + n * step + step * 0.15, float(top + height)
        for value, colour in zip(stack, colours, strict=True):
            h = height * value / peak
            y -= h
            if value:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}"'
                    f' height="{max(h, 0.8):.1f}" fill="{colour}"/>'
                )
        if n in marked:
            parts.append(
                f'<circle cx="{x + step * 0.35:.1f}" cy="{y - 5:.1f}" r="3" fill="{FLAG}"/>'
            )
        if n == 0 or (n + 1) % 5 == 0:
            parts.append(
                _text(
                    x + step * 0.35,
                    top + height + 14,
                    labels[n],
                    size=9,
                    fill=MUTED,
                    text_anchor="middle",
                )
            )
    return _svg(top + height + bottom, title, "".join(parts))


def donut(parts: Sequence[tuple[str, int, str]], title: str, centre: str) -> str:
    """A ring of shares (label, value, colour) with `centre` written inside it."""
    total = sum(v for _, v, _ in parts)
    cx, cy, r, stroke = 60.0, 60.0, 44.0, 18.0
    body = [
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{GRID}" stroke-width="{stroke}"/>'
    ]
    angle = -math.pi / 2
    for _, value, colour in parts:
        if not total or not value:
            continue
        sweep = 2 * math.pi * value / total
        body.append(
            _arc(cx, cy, r, angle, min(sweep, 2 * math.pi - 1e-4), colour, stroke)
        )
        angle += sweep
    body.append(
        _text(cx, cy + 5, centre, size=14, text_anchor="middle", font_weight="bold")
    )
    y = 30.0
    for label, value, colour in parts:
        share = f"{value / total:.1%}" if total else "-"
        body.append(
            f'<rect x="130" y="{y - 10:.0f}" width="12" height="12" rx="2" fill="{colour}"/>'
        )
        body.append(_text(148, y + 1, f"{label} {value:,}（{share}）", size=13))
        y += 24
    return _svg(120, title, "".join(body))


def sparkline(
    values: Sequence[int], median: float | None, marked: frozenset[int], title: str
) -> str:
    """A small line of daily values, the baseline median dashed, flagged days as red dots."""
    w, h, pad = 120, 28, 3
    peak = max([*values, median or 0, 1])
    step = (w - 2 * pad) / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return h - pad - (h - 2 * pad) * v / peak

    points = " ".join(f"{pad + n * step:.1f},{y(v):.1f}" for n, v in enumerate(values))
    body = [
        f'<polyline points="{points}" fill="none" stroke="{SERIES["allowed"]}" stroke-width="1.5"/>'
    ]
    if median is not None:
        body.append(
            f'<line x1="{pad}" x2="{w - pad}" y1="{y(median):.1f}" y2="{y(median):.1f}"'
            f' stroke="{MUTED}" stroke-dasharray="3 2"/>'
        )
    body += [
        f'<circle cx="{pad + n * step:.1f}" cy="{y(values[n]):.1f}" r="2.5" fill="{FLAG}"/>'
        for n in sorted(marked)
    ]
    return _svg(h, title, "".join(body), width=w).replace(
        'class="chart"', 'class="spark"'
    )


def _arc(
    cx: float,
    cy: float,
    r: float,
    start: float,
    sweep: float,
    colour: str,
    width: float,
) -> str:
    x1, y1 = cx + r * math.cos(start), cy + r * math.sin(start)
    x2, y2 = cx + r * math.cos(start + sweep), cy + r * math.sin(start + sweep)
    large = 1 if sweep > math.pi else 0
    return (
        f'<path d="M{x1:.2f} {y1:.2f} A{r} {r} 0 {large} 1 {x2:.2f} {y2:.2f}" fill="none"'
        f' stroke="{colour}" stroke-width="{width}"/>'
    )


def _nice(value: int) -> int:
    """The smallest 1, 2 or 5 x 10^n at or above `value` (at least 1): a round scale top."""
    if value <= 1:
        return 1
    magnitude: int = 10 ** int(math.log10(value))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= value)
