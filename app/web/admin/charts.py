"""Inline SVG charts: no JavaScript, no library; readable on a phone."""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from app.web.queries.usage import Bucket

WIDTH, HEIGHT, PAD = 720, 180, 24


def calls_chart(buckets: Sequence[Bucket]) -> Markup:
    """Bars: calls per bucket (failed part in red); line: p95 latency on its own scale."""
    if not buckets:
        return Markup("")
    most = max((b.calls for b in buckets), default=0) or 1
    slowest = max((b.p95 or 0 for b in buckets), default=0) or 1
    step = (WIDTH - 2 * PAD) / len(buckets)
    plot = HEIGHT - 2 * PAD
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="calls over time">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>']
    points = []
    for i, bucket in enumerate(buckets):
        x = PAD + i * step
        height = plot * bucket.calls / most
        failed = plot * bucket.failed / most
        label = escape(f"{bucket.start}: {bucket.calls} calls, {bucket.failed} failed, p95 {bucket.p95 or '-'} ms")
        parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - height:.1f}" width="{max(step - 1, 1):.1f}" '
                     f'height="{height:.1f}" class="bar"><title>{label}</title></rect>')
        if failed:
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - failed:.1f}" width="{max(step - 1, 1):.1f}" '
                         f'height="{failed:.1f}" class="bar-failed"/>')
        if bucket.p95 is not None:
            points.append(f"{x + step / 2:.1f},{HEIGHT - PAD - plot * bucket.p95 / slowest:.1f}")
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(points)}" class="p95"/>')
    for point in points:  # a dot per bucket, so a single bucket with calls still shows its p95
        x, y = point.split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="3" class="p95-dot"/>')
    scale = f" · p95 line up to {slowest:.0f} ms" if points else ""
    parts.append(f'<text x="{PAD}" y="14" class="legend">max {most} calls per bar{scale}</text>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}" class="legend">{escape(buckets[0].start)}</text>')
    parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end" class="legend">'
                 f'{escape(buckets[-1].start)}</text></svg>')
    return Markup("".join(parts))


def lines_chart(labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float | None]]], unit: str) -> Markup:
    """One polyline per (name, css class, values) over labels, on a shared scale; gaps where a value is None."""
    if not labels:
        return Markup("")
    top = max((v for _, _, values in series for v in values if v is not None), default=0) or 1
    step = (WIDTH - 2 * PAD) / max(1, len(labels) - 1) if len(labels) > 1 else 0
    plot = HEIGHT - 2 * PAD
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(unit)} over time">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>']
    for name, css, values in series:
        points = [(PAD + i * step if step else WIDTH / 2, HEIGHT - PAD - plot * v / top)
                  for i, v in enumerate(values) if v is not None]
        for x, y in points:  # a dot for every value, so a single week still shows
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="{css}"><title>{escape(name)}</title></circle>')
        if len(points) > 1:
            parts.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}" class="{css}"/>')
    legend = " · ".join(name for name, _, _ in series)
    parts.append(f'<text x="{PAD}" y="14" class="legend">{escape(legend)} · up to {top:.0f} {escape(unit)}</text>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}" class="legend">{escape(labels[0])}</text>')
    parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" text-anchor="end" class="legend">'
                 f'{escape(labels[-1])}</text></svg>')
    return Markup("".join(parts))
