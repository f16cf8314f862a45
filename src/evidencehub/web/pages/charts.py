"""Inline SVG charts drawn on the server: no script, no chart library, readable without colour alone.

Each chart has a ``<title>`` and ``role="img"`` with a label, every bar or dot a
``<title>`` with its numbers (the browser's tooltip), and the pages put the same
numbers in a table beside it for keyboard and screen-reader users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from evidencehub.results.schemas import BuildTrendPoint

WIDTH = 640
HEIGHT = 180
PAD_LEFT = 44
PAD_BOTTOM = 26
PAD_TOP = 10
PAD_RIGHT = 10


def _label(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _frame(title: str, body: list[str], *, width: int = WIDTH, height: int = HEIGHT) -> Markup:
    return Markup(  # noqa: S704 - every interpolated text is escaped
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def _axis(maximum: float, unit: str) -> list[str]:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{HEIGHT - PAD_BOTTOM}"/>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" '
        f'x2="{WIDTH - PAD_RIGHT}" y2="{HEIGHT - PAD_BOTTOM}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = PAD_TOP + plot_h * (1 - fraction)
        value = maximum * fraction
        text = f"{value:.0f}{unit}" if value >= 10 or value == 0 else f"{value:.1f}{unit}"
        parts.append(f'<text class="tick" x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    return parts


def status_trend(
    points: Sequence[BuildTrendPoint], title: str = "Passed, failed and skipped tests by build"
) -> Markup:
    """Stacked bars per build: passed (bottom), failed, skipped."""
    maximum = max((point.passed + point.failed + point.skipped for point in points), default=0) or 1
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(points), 1)
    bar = max(min(slot * 0.7, 48), 2)
    body = _axis(maximum, "")
    for index, point in enumerate(points):
        x = PAD_LEFT + slot * index + (slot - bar) / 2
        base = float(HEIGHT - PAD_BOTTOM)
        tip = (
            f"build {point.build}: {point.passed} passed, {point.failed} failed, {point.skipped} skipped "
            f"({point.runs} run{'s' if point.runs != 1 else ''})"
        )
        body.append(f"<g><title>{escape(tip)}</title>")
        for css, value in (("passed", point.passed), ("failed", point.failed), ("skipped", point.skipped)):
            height = plot_h * value / maximum
            if height <= 0:
                continue
            base -= height
            body.append(
                f'<rect class="{css}" x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}"/>'
            )
        body.append("</g>")
        if len(points) <= 16 or index % max(len(points) // 8, 1) == 0:
            body.append(
                f'<text class="tick" x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(_label(point.build))}</text>"
            )
    return _frame(title, body)


def duration_trend(points: Sequence[BuildTrendPoint], title: str = "Total test duration by build") -> Markup:
    """A line of each build's summed run duration, in minutes or seconds."""
    seconds = [point.duration_ms / 1000 for point in points]
    in_minutes = max(seconds, default=0) >= 120
    values = [value / 60 for value in seconds] if in_minutes else seconds
    unit = " min" if in_minutes else " s"
    maximum = max(values, default=0) or 1
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(points), 1)
    coords = [
        (PAD_LEFT + slot * index + slot / 2, PAD_TOP + plot_h * (1 - value / maximum))
        for index, value in enumerate(values)
    ]
    body = _axis(maximum, unit)
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline class="line" points="{path}"/>')
    for index, ((x, y), point, value) in enumerate(zip(coords, points, values, strict=True)):
        body.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
            f"<title>{escape(f'build {point.build}: {value:.1f}{unit}')}</title></circle>"
        )
        if len(points) <= 16 or index % max(len(points) // 8, 1) == 0:
            body.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(_label(point.build))}</text>"
            )
    return _frame(title, body)


@dataclass(frozen=True)
class Mark:
    """One cell of a sparkline: a status (passed, failed, error, skipped…) and its tooltip."""

    status: str
    tip: str
    flaky: bool = False


def sparkline(marks: Sequence[Mark], title: str) -> Markup:
    """A row of small squares, oldest first, one per run; the newest is outlined."""
    cell, gap = 9, 2
    width = max(len(marks), 1) * (cell + gap)
    body = []
    for index, mark in enumerate(marks):
        css = f"spark-{_status_class(mark.status)}" + (" spark-flaky" if mark.flaky else "")
        if index == len(marks) - 1:
            css += " spark-last"
        body.append(
            f'<rect class="{css}" x="{index * (cell + gap)}" y="1" width="{cell}" height="{cell}">'
            f"<title>{escape(mark.tip)}</title></rect>"
        )
    return Markup(  # noqa: S704 - every interpolated text is escaped
        f'<svg class="sparkline" viewBox="0 0 {width} {cell + 2}" width="{width}" height="{cell + 2}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _status_class(status: str) -> str:
    if status in ("passed", "failed", "error", "skipped"):
        return status
    return "other"
