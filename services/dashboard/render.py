"""The overview as one server-rendered HTML page: no scripts, a little inline CSS, and a meta
refresh. Every value from Kafka or a service is escaped (keys and reasons are outside input).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from schemas.topics import ORDERS_SYNCED, STOCK_PUSHED
from services.dashboard.charts import chart, number
from services.dashboard.history import DIRECTION_SERVICES, MetricsHistory
from services.dashboard.overview import (
    SKU_HINT,
    ActivityRow,
    DirectionView,
    Overview,
    ServiceCheck,
    ago,
)

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto 2rem; padding: 0 1.5rem;
       max-width: 1880px; min-width: 1200px; color: #1d2327; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 1rem 0 .5rem; } h2 { font-size: 1.2rem; margin: 0 0 .5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
.muted { color: #646970; } code { font-size: 12px; background: #f0f0f1; padding: 1px 4px; }
.tiles { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1rem;
         margin: .5rem 0 1rem; }
.tile { border-radius: 6px; padding: .6rem 1rem; min-width: 0; border: 2px solid;
        color: inherit; text-decoration: none; }
.ok { border-color: #00a32a; background: #edfaef; }
.attention, .degraded { border-color: #dba617; background: #fcf9e8; }
.down { border-color: #d63638; background: #fcf0f1; }
.badge { font-size: .8rem; padding: 1px 8px; border-radius: 9px; color: #fff; }
.badge.ok, .badge.ready { background: #00a32a; }
.badge.attention, .badge.degraded { background: #996800; }
.badge.down, .badge.not-ready { background: #d63638; }
section { border: 1px solid #dcdcde; border-left-width: 6px; border-radius: 6px;
          padding: .8rem 1rem; margin-bottom: 1rem; background: #fff; }
section.ok, section.attention, section.degraded, section.down { background: #fff; }
section.ok { border-left-color: #00a32a; }
section.attention, section.degraded { border-left-color: #dba617; }
section.down { border-left-color: #d63638; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #f0f0f1;
         vertical-align: top; }
th { font-weight: 600; color: #50575e; } td:first-child { white-space: nowrap; }
.warn { color: #b32d2e; font-weight: 600; } .problems { margin: .3rem 0; color: #b32d2e; }
summary { cursor: pointer; color: #2271b1; }
ul.kv { margin: 0; padding-left: 0; list-style: none; } ul.kv ul.kv { padding-left: 1rem; }
.charts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: .8rem;
          margin: .5rem 0; }
figure.chart { margin: 0; min-width: 0; } figcaption { font-size: 12px; margin-bottom: 2px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td { overflow-wrap: anywhere; }
.banner { background: #d63638; color: #fff; padding: .6rem 1rem; border-radius: 6px; }
"""

TITLES = {"sales": "Sales", "stock": "Stock", "items": "Items"}
ACTIVITY_TOPICS = {"sales": ORDERS_SYNCED, "stock": STOCK_PUSHED}


def render_page(overview: Overview, refresh_s: int, history: MetricsHistory | None = None) -> str:
    now = overview.generated_at
    history = history or MetricsHistory()
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='refresh' content='{refresh_s}'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>Sync dashboard: Shopbox ⇄ Rackbeat</title>",
        f"<style>{STYLE}</style></head><body>",
        "<header><h1>Shopbox ⇄ Rackbeat sync</h1><span class='muted'>",
        f"read {_clock(now)} · refreshes every {refresh_s} s · namespace ",
        f"<code>{escape(overview.namespace or '(none)')}</code> · read-only; ",
        "JSON: <a href='/api/overview'>/api/overview</a></span></header>",
    ]
    if overview.kafka_error:
        parts.append(f"<p class='banner'>Kafka unreachable: {escape(overview.kafka_error)}</p>")
    parts.append("<div class='tiles'>")
    parts += [_tile(view, now) for view in overview.directions.values()]
    parts.append("</div>")
    parts.append(_upstreams(history, now))
    parts += [_section(view, now, history) for view in overview.directions.values()]
    parts.append("</body></html>")
    return "".join(parts)


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _when(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    return f"{ago((now - at).total_seconds())} <span class='muted'>({_clock(at)})</span>"


def _age(at: datetime, now: datetime) -> str:
    """Short form for table cells; the exact time is in the tooltip."""
    return f"<span title='{_clock(at)}'>{ago((now - at).total_seconds())}</span>"


def _tile(view: DirectionView, now: datetime) -> str:
    waiting = sum(d.waiting for d in view.dead_letter_depths)
    lag = sum(row.lag for row in view.lags)
    lines = [
        f"<b>{TITLES[view.name]}</b> <span class='badge {view.state}'>{view.state}</span>",
        f"dead letters waiting: <b>{waiting}</b> · total lag: <b>{lag}</b>",
    ]
    if view.sku_problems:
        lines.append(
            f"SKU problems: <b class='warn'>{view.sku_problems}</b> · "
            f"<span class='muted'>{escape(SKU_HINT)}</span>"
        )
    if view.last_success_label:
        lines.append(f"{view.last_success_label}: {_when(view.last_success_at, now)}")
    return f"<a href='#{view.name}' class='tile {view.state}'>{'<br>'.join(lines)}</a>"


def _charts(name: str, history: MetricsHistory, now: datetime) -> str:
    if name not in DIRECTION_SERVICES:
        return ""
    stamp = now.timestamp()
    figures = "".join(chart(s, history.window_s, stamp) for s in history.charts(name))
    return f"<h3>Last hour</h3><div class='charts'>{figures}</div>"


def _upstreams(history: MetricsHistory, now: datetime) -> str:
    rows = []
    for h in history.health():
        since = h.failing_since
        state = "down" if since is not None else ("ok" if h.last_success else "attention")
        label = {"down": "failing", "ok": "ok", "attention": "no calls yet"}[state]
        rows.append(
            (
                f"{escape(h.api)} <span class='badge {state}' data-upstream='{escape(h.api)}'>"
                f"{label}</span>",
                _stamp(h.last_success, now),
                _stamp(since, now)
                if since is not None
                else "<span class='muted'>not failing</span>",
                number(h.error_rate * 100 if h.error_rate is not None else None, "%"),
                number(h.calls),
            )
        )
    table = _table(
        ("upstream", "last success", "failing since", "errors (last hour)", "calls (last hour)"),
        rows,
        empty="no metrics read from the services yet",
    )
    return f"<section id='upstreams'><h2>Upstream health</h2>{table}</section>"


def _stamp(unix: float | None, now: datetime) -> str:
    if not unix:
        return "never"
    return _age(datetime.fromtimestamp(unix, now.tzinfo), now)


def _section(view: DirectionView, now: datetime, history: MetricsHistory) -> str:
    parts = [
        f"<section id='{view.name}' class='{view.state}'>",
        f"<h2>{TITLES[view.name]} <span class='badge {view.state}'>{view.state}</span></h2>",
    ]
    if view.problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in view.problems)
        parts.append(f"<ul class='problems'>{items}</ul>")
    parts.append(_charts(view.name, history, now))
    if view.sku_problem_list:
        parts += [
            f"<h3>SKU problems ({number(view.sku_problems)})</h3>",
            _table(
                ("SKU", "reason", "fix in"),
                [
                    (escape(p.sku), escape(p.reason), escape(p.fix_in))
                    for p in view.sku_problem_list
                ],
            ),
        ]
    if view.last_success_label:
        parts.append(f"<p>{escape(view.last_success_label)}: {_when(view.last_success_at, now)}")
        if view.last_success_per_branch:
            per = ", ".join(
                f"branch {escape(b)}: {ago((now - at).total_seconds())}"
                for b, at in view.last_success_per_branch.items()
            )
            parts.append(f"<br><span class='muted'>per branch (recent records): {per}</span>")
        parts.append("</p>")
    parts += [
        "<h3>Services</h3>",
        _table(("service", "state", "why", "status"), [_service(c) for c in view.services]),
        "<h3>Consumer lag</h3>",
        _table(
            ("group", "topic", "committed", "end", "lag", "oldest waiting"),
            [
                (
                    escape(r.group),
                    escape(r.topic),
                    _num(r.committed),
                    _num(r.end),
                    _num(r.lag, warn=r.lag > 0),
                    _age(r.oldest_waiting_at, now) if r.oldest_waiting_at else "",
                )
                for r in view.lags
            ],
            empty="no consumer group has committed offsets on this direction's topics",
        ),
        "<h3>Dead letters</h3>",
        _table(
            ("topic", "records", "waiting (not re-driven)"),
            [
                (escape(d.topic), _num(d.records), _num(d.waiting, warn=d.waiting > 0))
                for d in view.dead_letter_depths
            ],
        ),
    ]
    if view.dead_letters:
        parts += [
            "<h3>Newest dead letters</h3>",
            _table(
                ("failed", "position", "key", "reason", "re-drive once fixed"),
                [
                    (
                        _age(d.failed_at, now),
                        escape(d.position),
                        escape(d.key),
                        escape(d.reason),
                        "re-driven" if d.redriven else f"<code>{escape(d.command)}</code>",
                    )
                    for d in view.dead_letters
                ],
            ),
        ]
    if view.last_success_label:
        parts += [
            f"<h3>Recent activity ({ACTIVITY_TOPICS.get(view.name, '')})</h3>",
            _table(
                ("time", "what", "outcome", "detail"),
                [_activity(row, now) for row in view.recent],
                empty="no records yet",
            ),
        ]
    parts.append("</section>")
    return "".join(parts)


def _service(check: ServiceCheck) -> tuple[str, ...]:
    state = f"<span class='badge {check.state.replace(' ', '-')}'>{check.state}</span>"
    name = f"{escape(check.name)}<br><span class='muted'>{escape(check.url)}</span>"
    why = escape("; ".join(check.reasons)) or "<span class='muted'>nothing to report</span>"
    return name, state, why, _status(check.status)


def _status(status: dict[str, Any] | None) -> str:
    """The service's own /status, folded: what an operator digs into, not what they scan."""
    if not status:
        return "<span class='muted'>none</span>"
    body = _value({k: v for k, v in status.items() if k not in {"service", "at"}})
    return f"<details><summary>counters and settings</summary>{body}</details>"


def _value(value: Any, depth: int = 0) -> str:
    """A status value as a small nested key/value list (escaped); long lists are shortened."""
    if isinstance(value, dict):
        if not value:
            return "<span class='muted'>none</span>"
        if depth >= 3:
            return escape(_short(value))
        items = "".join(
            f"<li>{escape(str(k))}: {_value(v, depth + 1)}</li>" for k, v in value.items()
        )
        return f"<ul class='kv'>{items}</ul>"
    if isinstance(value, list):
        if not value:
            return "<span class='muted'>none</span>"
        shown = ", ".join(escape(_short(v, 60)) for v in value[:10])
        more = f" <span class='muted'>(+{len(value) - 10} more)</span>" if len(value) > 10 else ""
        return shown + more
    if value is None:
        return "<span class='muted'>none</span>"
    return escape(_short(value))


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _activity(row: ActivityRow, now: datetime) -> tuple[str, ...]:
    outcome = (
        escape(row.outcome) if row.valid else f"<span class='warn'>{escape(row.outcome)}</span>"
    )
    return _age(row.at, now), escape(row.subject), outcome, escape(row.detail)


def _num(value: int, warn: bool = False) -> str:
    return f"<span class='warn'>{number(value)}</span>" if warn else number(value)


def _table(headers: tuple[str, ...], rows: Iterable[tuple[str, ...]], empty: str = "none") -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f"<p class='muted'>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
