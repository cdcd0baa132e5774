"""Server-side SVG charts (issue 17): plain functions from numbers to SVG text.

No Django, no JavaScript, no colour-only encoding: every point has a marker shape and its
value written next to it, every chart has a <title>/<desc>, and the pages show the same
numbers as a table. Output is escaped; inputs are labels and numbers only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Marker shapes by series index: readable in grey print and for colour-blind readers.
SHAPES = ("circle", "square", "triangle", "diamond")
# Dark tones with >= 4.5:1 contrast on white (text and lines).
INKS = ("#0a3d91", "#7a2e00", "#1b5e20", "#5b2a86")


def _marker(shape: str, x: float, y: float, ink: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{ink}"/>'
    if shape == "triangle":
        pts = f"{x:.1f},{y - 5:.1f} {x - 5:.1f},{y + 4:.1f} {x + 5:.1f},{y + 4:.1f}"
        return f'<polygon points="{pts}" fill="{ink}"/>'
    if shape == "diamond":
        pts = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{ink}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{ink}"/>'


def _fmt(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def line_chart_svg(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    width: int = 360,
    height: int = 200,
    y_min: float | None = None,
    y_max: float | None = None,
    target: tuple[str, float] | None = None,
    chart_id: str = "chart",
) -> str:
    """A line chart: one x position per label, one line per series; gaps where None.

    ``target`` draws a dashed horizontal line with its label (e.g. the enrolment target).
    """
    left, right, top, bottom = 40, 12, 30, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    if target:
        values.append(target[1])
    lo = y_min if y_min is not None else min([*values, 0])
    hi = y_max if y_max is not None else max([*values, 1])
    if hi <= lo:
        hi = lo + 1
    if y_max is None:
        # Headroom for the value labels above the highest marker, up to a round number.
        step = 5 if hi - lo <= 50 else 10
        hi = lo + math.ceil((hi - lo) * 1.15 / step) * step
    n = max(len(labels), 1)

    def x_at(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y_at(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    desc = "; ".join(
        f"{name}: "
        + ", ".join(
            f"{lab} {_fmt(v) if v is not None else 'not computed'}"
            for lab, v in zip(labels, vs, strict=False)
        )
        for name, vs in series
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="chart" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc or "No values yet.")}</desc>',
        '<rect x="0" y="0" width="100%" height="100%" fill="#fff"/>',
        f'<text x="{left}" y="15" font-size="12" font-weight="600" fill="#212529">'
        f"{escape(title)}</text>",
    ]
    # Axes and three grid lines with their values.
    for frac in (0, 0.5, 1):
        v = lo + (hi - lo) * frac
        y = y_at(v)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ced4da" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#495057">{_fmt(v)}</text>'
        )
    for i, lab in enumerate(labels):
        out.append(
            f'<text x="{x_at(i):.1f}" y="{height - bottom + 14}" font-size="10" '
            f'text-anchor="middle" fill="#495057">{escape(str(lab))}</text>'
        )
    if target:
        y = y_at(target[1])
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#212529" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{width - right}" y="{y - 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#212529">{escape(target[0])} {_fmt(target[1])}</text>'
        )
    for k, (name, vs) in enumerate(series):
        ink, shape = INKS[k % len(INKS)], SHAPES[k % len(SHAPES)]
        dash = "" if k == 0 else f' stroke-dasharray="{2 + 2 * k} 3"'
        segment: list[str] = []
        for i, v in enumerate(vs):
            if v is None:
                if len(segment) > 1:
                    out.append(_polyline(segment, ink, dash))
                segment = []
                continue
            segment.append(f"{x_at(i):.1f},{y_at(v):.1f}")
        if len(segment) > 1:
            out.append(_polyline(segment, ink, dash))
        for i, v in enumerate(vs):
            if v is None:
                continue
            x, y = x_at(i), y_at(v)
            out.append(_marker(shape, x, y, ink))
            out.append(
                f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="10" text-anchor="middle" '
                f'fill="{ink}">{_fmt(v)}</text>'
            )
        if len(series) > 1:  # a legend with the marker shape, not colour alone
            ly = height - 12
            lx = left + k * (plot_w / len(series))
            out.append(_marker(shape, lx + 5, ly - 4, ink))
            out.append(
                f'<text x="{lx + 14:.1f}" y="{ly:.1f}" font-size="10" fill="{ink}">'
                f"{escape(name)}</text>"
            )
    out.append("</svg>")
    return "".join(out)


def _polyline(points: list[str], ink: str, dash: str) -> str:
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{ink}" '
        f'stroke-width="2"{dash}/>'
    )


@dataclass(frozen=True)
class FlowBox:
    """One box of a flow diagram: its text lines, and side boxes (exclusions) to its right."""

    lines: tuple[str, ...]
    side: tuple[str, ...] = ()


def _box_lines(lines: Sequence[str], *, x: float, y: float, step: float, size: float) -> list[str]:
    """The text lines of one flow box, the first in bold."""
    bold = ' font-weight="600"'
    return [
        f'<text x="{x}" y="{y + i * step}" font-size="{size:g}"'
        f'{bold if i == 0 else ""} fill="#212529">{escape(text)}</text>'
        for i, text in enumerate(lines)
    ]


def flow_diagram_svg(
    *, title: str, columns: Sequence[tuple[str, Sequence[FlowBox]]], chart_id: str = "flow"
) -> str:
    """A CONSORT-style flow: boxes top to bottom joined by arrows, one column per group.

    Columns share the rows (the same stage at the same height), so arms compare side by side.
    """
    box_w, side_w, gap_x = 230, 250, 30
    line_h, pad, gap_y = 15, 8, 26
    rows = max((len(boxes) for _, boxes in columns), default=0)
    # Height of each row: the tallest box (or side box) of that row across columns.
    heights = []
    for r in range(rows):
        h = 0
        for _, boxes in columns:
            if r < len(boxes):
                b = boxes[r]
                h = max(h, len(b.lines), len(b.side))
        heights.append(h * line_h + 2 * pad)
    col_w = box_w + (side_w + 20 if any(b.side for _, bs in columns for b in bs) else 0)
    width = len(columns) * col_w + (len(columns) - 1) * gap_x + 20
    height = 40 + sum(heights) + gap_y * max(rows - 1, 0) + 10
    desc = " | ".join(
        f"{name}: " + "; ".join(" ".join(b.lines + b.side) for b in boxes)
        for name, boxes in columns
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="flow" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="sans-serif">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#212529"/></marker>'
        "</defs>",
        '<rect x="0" y="0" width="100%" height="100%" fill="#fff"/>',
    ]
    for c, (name, boxes) in enumerate(columns):
        x0 = 10 + c * (col_w + gap_x)
        out.append(
            f'<text x="{x0 + box_w / 2:.0f}" y="22" font-size="13" font-weight="700" '
            f'text-anchor="middle" fill="#212529">{escape(name)}</text>'
        )
        y = 34
        for r, box in enumerate(boxes):
            h = heights[r]
            if not box.lines:  # an empty cell keeps the rows of the columns aligned
                y += h + gap_y
                continue
            out.append(
                f'<rect x="{x0}" y="{y}" width="{box_w}" height="{h}" rx="4" fill="#fff" '
                'stroke="#212529" stroke-width="1.2"/>'
            )
            out.extend(_box_lines(box.lines, x=x0 + pad, y=y + pad + 11, step=line_h, size=11.5))
            if box.side:
                sx = x0 + box_w + 20
                out.append(
                    f'<line x1="{x0 + box_w}" x2="{sx}" y1="{y + h / 2:.0f}" '
                    f'y2="{y + h / 2:.0f}" stroke="#212529" marker-end="url(#arrow)"/>'
                )
                out.append(
                    f'<rect x="{sx}" y="{y}" width="{side_w}" height="{h}" rx="4" fill="#f8f9fa" '
                    'stroke="#495057" stroke-dasharray="4 2"/>'
                )
                out.extend(_box_lines(box.side, x=sx + pad, y=y + pad + 11, step=line_h, size=11))
            if r < len(boxes) - 1:
                out.append(
                    f'<line x1="{x0 + box_w / 2:.0f}" x2="{x0 + box_w / 2:.0f}" y1="{y + h}" '
                    f'y2="{y + h + gap_y - 2}" stroke="#212529" marker-end="url(#arrow)"/>'
                )
            y += h + gap_y
    out.append("</svg>")
    return "".join(out)
