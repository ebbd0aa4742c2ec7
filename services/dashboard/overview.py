"""What the dashboard shows, assembled from what was read: plain, typed and Kafka-free.

`collect.py` does the reading (service endpoints, offsets, topic tails); this module decides what
it means per direction: which topics and services belong to it, what counts as a problem, and
the command an operator runs to re-drive a dead letter (the dashboard itself never writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from schemas.orders import OrderSynced
from schemas.stock import StockPushed
from schemas.topics import (
    BINDINGS,
    ORDERS_SYNCED,
    RACKBEAT_PRODUCTS,
    SALES,
    SALES_CURSOR,
    SHOPBOX_PRODUCTS,
    STOCK,
    STOCK_PUSHED,
    all_specs,
    dlq_name,
)
from services.common.dead_letters import DeadLetter
from services.common.lags import GroupLag


@dataclass(frozen=True)
class Direction:
    name: str
    services: tuple[str, ...]
    topics: tuple[str, ...]
    """Catalog topics (without namespace) whose consumer lag belongs to this direction."""

    @property
    def dead_letter_topics(self) -> tuple[str, ...]:
        consumed = {s.name for s in all_specs() if s.dead_letters}
        return tuple(dlq_name(t) for t in self.topics if t in consumed)


DIRECTIONS: tuple[Direction, ...] = (
    Direction(
        "sales",
        ("order-ingest", "order-writer"),
        (SALES, ORDERS_SYNCED, SALES_CURSOR),
    ),
    Direction("stock", ("stock-publisher",), (STOCK, STOCK_PUSHED)),
    Direction(
        "items",
        ("item-mapper",),
        (SHOPBOX_PRODUCTS, RACKBEAT_PRODUCTS, BINDINGS),
    ),
)


@dataclass(frozen=True)
class RawRecord:
    """One record read from a topic, as the reader got it."""

    key: bytes | None
    value: bytes | None
    timestamp_ms: int


class Model(BaseModel):
    model_config = {"frozen": True}


ServiceState = Literal["ready", "not ready", "down"]


class ServiceCheck(Model):
    name: str
    url: str
    state: ServiceState
    reasons: list[str] = []
    status: dict[str, Any] | None = None


class LagRow(Model):
    group: str
    topic: str
    committed: int
    end: int
    lag: int
    oldest_waiting_at: datetime | None = None
    waiting_s: float | None = None
    """Age of the oldest record the group has not processed (None when caught up)."""


class DeadLetterDepth(Model):
    topic: str
    records: int
    waiting: int
    """Records not re-driven yet (records minus those in `<dlq>.redriven`)."""


class DeadLetterRow(Model):
    topic: str
    source_topic: str
    position: str
    key: str
    origin: str
    failed_at: datetime
    reason: str
    redriven: bool
    command: str


class ActivityRow(Model):
    at: datetime
    subject: str
    outcome: str
    detail: str
    valid: bool = True


class DirectionView(Model):
    name: str
    state: Literal["ok", "attention", "degraded", "down"]
    problems: list[str]
    services: list[ServiceCheck]
    lags: list[LagRow]
    dead_letter_depths: list[DeadLetterDepth]
    dead_letters: list[DeadLetterRow]
    recent: list[ActivityRow] = []
    last_success_label: str | None = None
    last_success_at: datetime | None = None
    seconds_since_last_success: float | None = None
    last_success_per_branch: dict[str, datetime] = {}
    sku_problems: int = 0
    """SKUs item-mapper could not bind (its /status `sku_problems`): not synced at all."""
    sku_problem_list: list[SkuProblem] = []
    """The first of them by SKU, with the reason and where to fix it."""


class SkuProblem(Model):
    sku: str
    reason: str
    fix_in: str


DirectionView.model_rebuild()


class Overview(Model):
    generated_at: datetime
    namespace: str
    kafka_error: str | None
    directions: dict[str, DirectionView]


@dataclass
class Readings:
    """Everything collect.py read, still in Kafka's terms (namespaced topic names)."""

    namespace: str
    services: list[ServiceCheck]
    lags: list[GroupLag]
    depths: dict[str, int]
    redriven: dict[str, set[str]]
    dead_letters: list[DeadLetter]
    orders: list[RawRecord]
    pushes: list[RawRecord]
    kafka_error: str | None = None


@dataclass(frozen=True)
class Limits:
    recent_records: int = 20
    dead_letters_shown: int = 10
    lag_warning: int = 100
    lag_age_warning_s: float = 120.0
    syncctl: str = "syncctl"
    """How syncctl runs where the dashboard runs (the commands shown start with it)."""


def strip_namespace(topic: str, namespace: str) -> str:
    return topic[len(namespace) :] if namespace and topic.startswith(namespace) else topic


def redrive_command(
    source_topic: str, position: str, namespace: str, syncctl: str = "syncctl"
) -> str:
    """The syncctl command that re-drives one dead letter (the dashboard only shows it), as it
    works where the dashboard runs (`DASHBOARD_SYNCCTL_COMMAND`, the dashboard's namespace)."""
    prefix = f"KAFKA_TOPIC_NAMESPACE={namespace} " if namespace else ""
    return f"{prefix}{syncctl} dlq redrive --topic {source_topic} --offset {position}"


def dead_letter_row(
    letter: DeadLetter, namespace: str, redriven: set[str], syncctl: str = "syncctl"
) -> DeadLetterRow:
    topic = strip_namespace(letter.topic, namespace)
    source = strip_namespace(letter.origin_topic or topic.removesuffix(".dlq"), namespace)
    return DeadLetterRow(
        topic=topic,
        source_topic=source,
        position=letter.position,
        key=letter.key.decode(errors="replace") if letter.key else "",
        origin=strip_namespace(letter.origin, namespace),
        failed_at=_failed_at(letter),
        reason=letter.reason,
        redriven=letter.position in redriven,
        command=redrive_command(source, letter.position, namespace, syncctl),
    )


def _failed_at(letter: DeadLetter) -> datetime:
    stamp = letter.failed_at
    if stamp:
        try:
            return datetime.fromisoformat(stamp)
        except ValueError:
            pass
    return _from_ms(letter.timestamp_ms)


def _from_ms(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _key(record: RawRecord) -> str:
    return record.key.decode(errors="replace") if record.key else ""


def _unreadable(record: RawRecord, exc: ValidationError) -> ActivityRow:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return ActivityRow(
        at=_from_ms(record.timestamp_ms),
        subject=_key(record),
        outcome="unreadable",
        detail=f"{where}: {first['msg']}",
        valid=False,
    )


def order_row(record: RawRecord) -> ActivityRow:
    try:
        event = OrderSynced.model_validate_json(record.value or b"")
    except ValidationError as exc:
        return _unreadable(record, exc)
    p = event.payload
    order = f"Rackbeat order {p.rackbeat_order_number}" if p.rackbeat_order_number else "no order"
    # A cancelled order reserves nothing by design: "not booked" would read as a failure.
    state = "cancelled" if p.outcome == "cancelled" else "booked" if p.booked else "not booked"
    return ActivityRow(
        at=p.synced_at,
        subject=f"basket {p.basket_id}",
        outcome=p.outcome,
        # The ledger's second record of a sale a copied figure counted (order-writer).
        detail=f"{order}, {state}" + (", stock given back" if p.stock_returned else ""),
    )


def push_row(record: RawRecord) -> tuple[ActivityRow, str | None]:
    """The activity row of a stock push, and the branch it went to (None if unreadable)."""
    try:
        event = StockPushed.model_validate_json(record.value or b"")
    except ValidationError as exc:
        return _unreadable(record, exc), None
    p = event.payload
    was = "unknown" if p.previous_quantity is None else f"{p.previous_quantity:f}"
    variant = f", variant {p.variant_id}" if p.variant_id else ""
    row = ActivityRow(
        at=p.pushed_at,
        subject=f"SKU {p.sku} @ branch {p.branch_id}",
        outcome=f"set to {p.quantity:f} (was {was})",
        detail=f"product {p.product_id}{variant}",
    )
    return row, p.branch_id


def ago(seconds: float | None) -> str:
    """'never', '12 s ago', '3 min ago', '5 h ago', '2 d ago'."""
    if seconds is None:
        return "never"
    s = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= 2 * size:
            return f"{s // size} {unit} ago"
    return f"{s} s ago"


def assemble(readings: Readings, limits: Limits, now: datetime) -> Overview:
    ns = readings.namespace
    orders = [order_row(r) for r in readings.orders]
    pushes = [push_row(r) for r in readings.pushes]
    views = {}
    for direction in DIRECTIONS:
        view = _direction(direction, readings, limits, now)
        if direction.name == "sales":
            view = _with_activity(view, orders, "last order synced", limits, now)
        elif direction.name == "stock":
            view = _with_activity(view, [row for row, _ in pushes], "last stock push", limits, now)
            view = view.model_copy(update={"last_success_per_branch": _per_branch(pushes)})
        views[direction.name] = view
    return Overview(
        generated_at=now, namespace=ns, kafka_error=readings.kafka_error, directions=views
    )


def _direction(
    direction: Direction, readings: Readings, limits: Limits, now: datetime
) -> DirectionView:
    ns = readings.namespace
    services = [c for c in readings.services if c.name in direction.services]
    lags = [
        LagRow(
            group=g.group,
            topic=t,
            committed=g.committed,
            end=g.end,
            lag=g.lag,
            oldest_waiting_at=g.oldest_waiting_at,
            waiting_s=(now - g.oldest_waiting_at).total_seconds() if g.oldest_waiting_at else None,
        )
        for g in readings.lags
        if (t := strip_namespace(g.topic, ns)) in direction.topics
    ]
    depths = []
    for base in direction.dead_letter_topics:
        total = readings.depths.get(f"{ns}{base}", 0)
        done = len(readings.redriven.get(f"{ns}{base}", set()))
        depths.append(DeadLetterDepth(topic=base, records=total, waiting=max(0, total - done)))
    letters = sorted(
        (
            dead_letter_row(d, ns, readings.redriven.get(d.topic, set()), limits.syncctl)
            for d in readings.dead_letters
            if strip_namespace(d.topic, ns) in direction.dead_letter_topics
        ),
        key=lambda row: row.failed_at,
        reverse=True,
    )[: limits.dead_letters_shown]
    sku_problems = sum(sku_problem_count(c) for c in services)
    problems = _problems(services, lags, depths, readings.kafka_error, limits)
    if sku_problems:
        problems.append(
            f"{sku_problems} SKU problem{'s' if sku_problems != 1 else ''}: those items are not "
            f"synced; {SKU_HINT}"
        )
    return DirectionView(
        name=direction.name,
        state=_state(services, problems, readings.kafka_error),
        problems=problems,
        services=services,
        lags=lags,
        dead_letter_depths=depths,
        dead_letters=letters,
        sku_problems=sku_problems,
        sku_problem_list=[p for c in services for p in sku_problem_rows(c)],
    )


SKU_HINT = "fix the SKUs in the master; see syncctl drift"


def sku_problem_rows(check: ServiceCheck) -> list[SkuProblem]:
    """item-mapper's `sku_problem_list`: each SKU, why, and the system to fix it in (the item
    master it reads; the other system follows once the master is right)."""
    status = check.status or {}
    master = str(status.get("item_master") or "the item master")
    fix_in = f"{master.capitalize()} (item master); then `syncctl drift` to confirm"
    rows = status.get("sku_problem_list")
    return [
        SkuProblem(sku=str(r.get("sku", "")), reason=str(r.get("problem") or ""), fix_in=fix_in)
        for r in (rows if isinstance(rows, list) else [])
        if isinstance(r, dict)
    ]


def sku_problem_count(check: ServiceCheck) -> int:
    """item-mapper's `sku_problems` (None while its bindings load; absent for other services)."""
    found = (check.status or {}).get("sku_problems")
    return found if isinstance(found, int) and not isinstance(found, bool) else 0


def _problems(
    services: list[ServiceCheck],
    lags: list[LagRow],
    depths: list[DeadLetterDepth],
    kafka_error: str | None,
    limits: Limits,
) -> list[str]:
    problems = [f"Kafka: {kafka_error}"] if kafka_error else []
    for check in services:
        if upstream_only(check):
            why = "; ".join(check.reasons)
            problems.append(f"{check.name} degraded: {why}; its records wait and are retried")
        elif check.state != "ready":
            why = "; ".join(check.reasons) or "no reason given"
            problems.append(f"{check.name} is {check.state}: {why}")
    problems += [
        f"{d.waiting} dead letter{'s' if d.waiting != 1 else ''} waiting in {d.topic}"
        for d in depths
        if d.waiting
    ]
    problems += [
        f"group {row.group} is {row.lag} records behind on {row.topic}"
        for row in lags
        if row.lag >= limits.lag_warning
    ]
    problems += [
        f"group {row.group}: the oldest unprocessed record on {row.topic} arrived "
        f"{ago(row.waiting_s)}"
        for row in lags
        if row.waiting_s is not None and row.waiting_s >= limits.lag_age_warning_s
    ]
    return problems


def _state(
    services: list[ServiceCheck], problems: list[str], kafka_error: str | None
) -> Literal["ok", "attention", "degraded", "down"]:
    if kafka_error or any(c.state != "ready" and not upstream_only(c) for c in services):
        return "down"
    if any(upstream_only(c) for c in services):
        return "degraded"
    return "attention" if problems else "ok"


def upstream_only(check: ServiceCheck) -> bool:
    """Not ready only because an upstream API is failing (its /status `upstream_failing`):
    the service runs and retries, the direction is degraded rather than down."""
    failing = (check.status or {}).get("upstream_failing") or []
    return check.state == "not ready" and bool(failing) and set(check.reasons) <= set(failing)


def _with_activity(
    view: DirectionView, rows: list[ActivityRow], label: str, limits: Limits, now: datetime
) -> DirectionView:
    newest = sorted(rows, key=lambda r: r.at, reverse=True)
    last = next((r.at for r in newest if r.valid), None)
    return view.model_copy(
        update={
            "recent": newest[: limits.recent_records],
            "last_success_label": label,
            "last_success_at": last,
            "seconds_since_last_success": (now - last).total_seconds() if last else None,
        }
    )


def _per_branch(pushes: list[tuple[ActivityRow, str | None]]) -> dict[str, datetime]:
    """Newest push per branch among the records read (the recent tail of stock.pushed.v1)."""
    latest: dict[str, datetime] = {}
    for row, branch in pushes:
        if branch is not None and (branch not in latest or row.at > latest[branch]):
            latest[branch] = row.at
    return dict(sorted(latest.items()))
