"""Small server-side SVG line charts (no script): one chart per series, the last hour on the x
axis, 0..max on the y axis, the newest value and the maximum written beside it."""

from __future__ import annotations

from html import escape

from services.dashboard.history import Point, Series

WIDTH, HEIGHT, PAD = 300, 70, 2
COLOURS = ("#2271b1", "#d63638", "#00a32a", "#996800")


def number(value: float | None, unit: str = "") -> str:
    """One format for every figure: integers plain, small values with 2 significant digits."""
    if value is None:
        return "n/a"
    if value == 0:
        text = "0"
    elif abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2g}"
    return f"{text} {unit}".strip()


def chart(series: Series, window_s: float, now: float) -> str:
    values = [p.value for pts in series.lines.values() for p in pts if p.value is not None]
    top = max(values, default=0.0) or 1.0
    paths = [
        _line(points, COLOURS[i % len(COLOURS)], top, window_s, now)
        for i, points in enumerate(series.lines.values())
    ]
    legend = " · ".join(
        f"<span style='color:{COLOURS[i % len(COLOURS)]}'>{escape(name)} "
        f"{number(_last(points), series.unit)}</span>"
        for i, (name, points) in enumerate(series.lines.items())
    )
    has_data = bool(values)
    return (
        f"<figure class='chart' data-series='{escape(series.title)}' "
        f"data-points='{len(values)}'><figcaption><b>{escape(series.title)}</b> "
        f"<span class='muted'>max {number(max(values, default=None), series.unit)}</span>"
        f"<br>{legend}</figcaption>"
        f"<svg viewBox='0 0 {WIDTH} {HEIGHT}' width='100%' height='{HEIGHT}' role='img' "
        "preserveAspectRatio='none' "
        f"aria-label='{escape(series.title)}, last hour'>"
        f"<rect x='0' y='0' width='{WIDTH}' height='{HEIGHT}' fill='#f6f7f7'/>"
        + "".join(paths)
        + ("" if has_data else _no_data())
        + "</svg></figure>"
    )


def _last(points: list[Point]) -> float | None:
    return next((p.value for p in reversed(points) if p.value is not None), None)


def _line(points: list[Point], colour: str, top: float, window_s: float, now: float) -> str:
    """A polyline per run of known values: a gap (service down) stays a gap."""
    runs: list[list[str]] = [[]]
    for p in points:
        if p.value is None:
            runs.append([])
            continue
        x = WIDTH * (1 - (now - p.at) / window_s)
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (p.value / top)
        runs[-1].append(f"{max(x, 0):.1f},{y:.1f}")
    return "".join(
        f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{' '.join(run)}'/>"
        if len(run) > 1
        else f"<circle cx='{run[0].split(',')[0]}' cy='{run[0].split(',')[1]}' r='1.5' "
        f"fill='{colour}'/>"
        for run in runs
        if run
    )


def _no_data() -> str:
    return (
        f"<text x='{WIDTH / 2}' y='{HEIGHT / 2}' text-anchor='middle' fill='#646970' "
        "font-size='11'>no data yet</text>"
    )
