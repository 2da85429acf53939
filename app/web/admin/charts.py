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
