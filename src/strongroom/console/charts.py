"""Charts as inline SVG, drawn on the server: no chart library, no script. The markup is
built from numbers and escaped labels only, and is styled by the console's stylesheet
(classes, no style attribute: the CSP allows no inline style)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 32


def bar_chart(
    title: str,
    starts: Sequence[float],
    values: Sequence[float],
    *,
    peers: Sequence[float] | None = None,
    budgets: Sequence[tuple[str, float]] = (),
    bucket_seconds: int = 3600,
) -> str:
    """Bars for `values` per bucket, the peers' mean as a dashed line, each budget as a
    red horizontal line. Returns one <svg> element."""
    top = max([*values, *(peers or []), *(b for _, b in budgets), 1.0])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(values), 1)
    step = plot_w / n

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}" stroke="#99a"/>',
        f'<text x="4" y="{TOP + 10}">{_num(top)}</text>',
        f'<text x="4" y="{TOP + plot_h}">0</text>',
    ]
    for i, v in enumerate(values):
        x = LEFT + i * step + step * 0.1
        h = TOP + plot_h - y(v)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y(v):.1f}" width="{step * 0.8:.1f}" '
            f'height="{h:.1f}"><title>{_label(starts[i], bucket_seconds)}: {_num(v)}</title>'
            "</rect>"
        )
    every = max(1, n // 8)
    for i in range(0, n, every):
        x = LEFT + i * step + step / 2
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
            f"{_label(starts[i], bucket_seconds)}</text>"
        )
    if peers:
        points = " ".join(
            f"{LEFT + i * step + step / 2:.1f},{y(v):.1f}" for i, v in enumerate(peers)
        )
        parts.append(f'<polyline class="peer" points="{points}"><title>peers</title></polyline>')
    for name, limit in budgets:
        parts.append(
            f'<line class="budget" x1="{LEFT}" y1="{y(limit):.1f}" x2="{WIDTH - RIGHT}" '
            f'y2="{y(limit):.1f}"><title>budget {escape(name)}: {_num(limit)}</title></line>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _num(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _label(start: float, bucket_seconds: int) -> str:
    when = datetime.fromtimestamp(start, UTC)
    return when.strftime("%H:00") if bucket_seconds < 86400 else when.strftime("%m-%d")
