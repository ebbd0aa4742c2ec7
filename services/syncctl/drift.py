"""`syncctl drift`: a read-only report of where Shopbox and Rackbeat differ, and why.

It reads the streams (bindings, ledger, recent sales, dead letters) and both APIs (in pages,
through the rate-limited clients), compares items, stock and sales, and labels each difference
with its probable cause (drift_rules.py). It writes nothing anywhere: no API write, no record,
no consumer group (topics are read by partition assignment), so it is safe to run from cron.
Exit code 0 when every difference is explained, 1 when one is not, 2 when an API call failed
and part of the report is missing (the failures are `error` rows; the rest is still checked).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import sys
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

import structlog
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from domain.bindings import binding_for, copied_after
from domain.items.rules import PriceRules
from domain.stock.levels import QuantityMode, location_levels, option_levels
from domain.stock.pending import PendingSales
from schemas.envelope import utcnow
from schemas.items import Binding
from schemas.orders import OrderSynced
from schemas.sales import SaleCancelled, SaleCompleted, SaleLine, SaleRefunded, sales_event_adapter
from schemas.stock import StockLevel, stock_key
from schemas.topics import Topics, dlq_name
from services.clients import shopbox as sb
from services.clients.factory import rackbeat_client, shopbox_client
from services.clients.http import ApiError, NotFound
from services.clients.rackbeat import RackbeatClient
from services.clients.shopbox import ShopboxClient
from services.common.bindings import BindingsView
from services.common.dead_letters import read_dead_letters, redriven_positions
from services.common.logging import configure_logging
from services.common.readers import read_records
from services.common.settings import (
    KafkaSettings,
    LogSettings,
    RackbeatSettings,
    ShopboxSettings,
    StockSettings,
    SyncSettings,
)
from services.common.views import CompactedView
from services.syncctl.drift_rules import (
    CAUSES,
    SECTIONS,
    BasketFacts,
    Difference,
    DriftReport,
    ItemPair,
    Section,
    StockSpotReading,
    basket_difference,
    error_difference,
    item_cause,
    item_differences,
    missing_item_difference,
    negative_stock,
    problem_differences,
    stock_difference,
    unbound_lines,
)

SalesEvent = SaleCompleted | SaleRefunded | SaleCancelled
ZERO = Decimal(0)


@dataclass(frozen=True)
class DriftConfig:
    master: Literal["shopbox", "rackbeat", "none"]
    prices: PriceRules
    branch_locations: dict[str, int]
    mode: QuantityMode
    safety: dict[int, Decimal]
    since: datetime
    """Baskets created since then are checked against the ledger."""
    pending_since: datetime
    """Sales since then count as in flight (stock-publisher's STOCK_SALES_LOOKBACK_HOURS)."""
    grace: timedelta
    now: datetime = field(default_factory=utcnow)


# ------------------------------------------------------------------------------------ streams


@dataclass
class StreamState:
    """What the pipeline knows, read once from the topics."""

    bindings: BindingsView
    ledger: dict[str, OrderSynced]
    streamed: dict[str, set[str]]
    """basket id -> event types on shopbox.sales.v1."""
    sales: list[tuple[datetime, SalesEvent]]
    """(published at, event) since the earlier of --since and the stock lookback."""
    dead_sales: dict[str, tuple[str, SalesEvent | None]]
    """basket id -> (reason, the dead-lettered event) for sales not re-driven since."""
    dead_stock: dict[str, str]
    dead_products: dict[str, str]
    shopbox_products: set[str] | None = None
    """Shopbox product uids as check_items listed them (None when it did not list them)."""

    def bound(self, product: str | None, variant: str | None, sku: str | None) -> Binding | None:
        """The binding a sale line maps by (the rule order-writer and stock-publisher use)."""
        return binding_for(self.bindings, product, variant, sku)

    def resolve(self, line: SaleLine) -> str | None:
        found = self.bound(line.product_id, line.variant_id, line.sku)
        return found.sku if found else None

    def copied_after(self, line: SaleLine, sold_at: datetime) -> bool:
        return copied_after(self.bound(line.product_id, line.variant_id, line.sku), sold_at)


async def read_streams(
    kafka: KafkaSettings, topics: Topics, master: str, since: datetime
) -> StreamState:
    bindings = BindingsView(kafka, topics.bindings)
    ledger: CompactedView[OrderSynced] = CompactedView(kafka, topics.orders_synced, OrderSynced)
    for view in (bindings, ledger):
        await view.start()
    try:
        for view in (bindings, ledger):
            await view.wait_caught_up()
    finally:
        for view in (bindings, ledger):
            await view.stop()
    sales = await read_since(kafka, topics.sales, since)
    streamed: dict[str, set[str]] = defaultdict(set)
    for _, event in sales:
        streamed[event.payload.basket_id].add(event.type)
    products = topics.shopbox_products if master == "shopbox" else topics.rackbeat_products
    return StreamState(
        bindings=bindings,
        ledger=dict(ledger.items()),
        streamed=streamed,
        sales=sales,
        dead_sales=await dead_sales(kafka, dlq_name(topics.sales)),
        dead_stock=await dead_reasons(kafka, dlq_name(topics.stock)),
        dead_products=await dead_reasons(kafka, dlq_name(products)),
    )


async def read_since(
    kafka: KafkaSettings, topic: str, since: datetime
) -> list[tuple[datetime, SalesEvent]]:
    """Sales events published since `since`, up to the end as it was when we started."""
    events: list[tuple[datetime, SalesEvent]] = []
    for record in await read_records(kafka, topic, since):
        try:
            event = sales_event_adapter.validate_json(record.value or b"")
        except ValidationError:
            continue  # order-writer dead-letters it; the dead letters report it
        events.append((datetime.fromtimestamp(record.timestamp / 1000, tz=UTC), event))
    return events


async def dead_letters(kafka: KafkaSettings, topic: str) -> dict[str, tuple[str, bytes | None]]:
    """key -> (latest reason, value) of the dead letters not re-driven since."""
    done = await redriven_positions(kafka, topic)
    found: dict[str, tuple[str, bytes | None]] = {}
    for letter in await read_dead_letters(kafka, topic):
        if letter.position in done or letter.key is None:
            continue
        found[letter.key.decode(errors="replace")] = (letter.reason, letter.value)
    return found


async def dead_reasons(kafka: KafkaSettings, topic: str) -> dict[str, str]:
    return {key: reason for key, (reason, _) in (await dead_letters(kafka, topic)).items()}


async def dead_sales(kafka: KafkaSettings, topic: str) -> dict[str, tuple[str, SalesEvent | None]]:
    decoded: dict[str, tuple[str, SalesEvent | None]] = {}
    for key, (reason, value) in (await dead_letters(kafka, topic)).items():
        try:
            event: SalesEvent | None = sales_event_adapter.validate_json(value or b"")
        except ValidationError:
            event = None
        decoded[key] = (reason, event)
    return decoded


# ------------------------------------------------------------------------------------ items


async def check_items(
    report: DriftReport,
    state: StreamState,
    shopbox: ShopboxClient,
    rackbeat: RackbeatClient,
    config: DriftConfig,
) -> None:
    report.differences += problem_differences(state.bindings.problems())
    usable = [e.payload for _, e in state.bindings.items() if e.payload.problem is None]
    report.checked["bindings"] = len(usable) + len(state.bindings.problems())
    if config.master == "none":
        report.notes.append("items: SYNC_ITEM_MASTER=none, so item fields are not compared")
        return
    groups: dict[tuple[str, str], list[Binding]] = defaultdict(list)
    for binding in usable:
        if not binding.shopbox_product_id or not binding.rackbeat_item_number:
            side = "Shopbox product" if not binding.shopbox_product_id else "Rackbeat item"
            report.differences.append(
                Difference(
                    "items",
                    binding.sku,
                    "binding",
                    side,
                    "(none)",
                    "unmapped",
                    f"the binding has no {side}",
                )
            )
            continue
        groups[(binding.shopbox_product_id, binding.rackbeat_item_number)].append(binding)
    shop = {p.uid: p async for p in shopbox.iter_products(per_page=500)}
    state.shopbox_products = set(shop)
    items = {p.number: p async for p in rackbeat.iter_products(page_size=1000)}
    variations = (
        {v.id: v for v in await rackbeat.list_variations()}
        if any(p.variation_id for p in items.values())
        else {}
    )
    for (product_id, number), group in sorted(groups.items()):
        item = items.get(number)
        variation = variations.get(item.variation_id) if item and item.variation_id else None
        pair = ItemPair(group, shop.get(product_id), item, variation)
        master_key = product_id if config.master == "shopbox" else number
        cause, why = item_cause(pair, state.dead_products.get(master_key))
        for name, expected, actual in item_differences(pair, config.master, config.prices):
            report.differences.append(
                Difference("items", number, name, expected, actual, cause, why)
            )
    report.checked["products"] = len(groups)


# ------------------------------------------------------------------------------------ stock


@dataclass
class PendingCounts:
    """stock-publisher's pending-sales table, fed from the same streams the same way: once with
    every sale, once without those waiting in the dead letters (to tell the causes apart)."""

    every: PendingSales
    live: PendingSales
    dead_reasons: dict[tuple[str, int], set[str]]
    """(SKU, location) -> reasons of dead-lettered sales that touch it."""


def pending_counts(state: StreamState, config: DriftConfig) -> PendingCounts:
    every = PendingSales(config.branch_locations, state.resolve, state.copied_after)
    live = PendingSales(config.branch_locations, state.resolve, state.copied_after)
    for at, event in state.sales:
        if at < config.pending_since:
            continue
        every.on_sale(event)
        if event.payload.basket_id not in state.dead_sales:
            live.on_sale(event)
    for basket_id, record in state.ledger.items():
        every.on_ledger(basket_id, record)
        live.on_ledger(basket_id, record)
    reasons: dict[tuple[str, int], set[str]] = defaultdict(set)
    for basket_id, (reason, dead) in state.dead_sales.items():
        if isinstance(dead, SaleCompleted | SaleRefunded):
            location = config.branch_locations.get(dead.payload.branch_id)
            for line in dead.payload.lines:
                sku = state.resolve(line)
                if sku is not None and location is not None:
                    reasons[(sku, location)].add(f"basket {basket_id}: {reason}")
    return PendingCounts(every, live, reasons)


def _zero_level(number: str, location: int) -> StockLevel:
    return StockLevel(
        item_number=number,
        location_number=location,
        stock_quantity=ZERO,
        in_order_quantity=ZERO,
        available_quantity=ZERO,
    )


async def rackbeat_levels(
    rackbeat: RackbeatClient, number: str, locations: list[int], variants: bool
) -> dict[tuple[int, str | None], StockLevel]:
    """Rackbeat stock of one item per (location, variant key), read as stock-publisher reads it."""
    if not variants:
        rows = location_levels(number, await rackbeat.item_stock(number))
    else:
        rows = []
        for location in locations:
            rows += option_levels(
                number, location, await rackbeat.variant_stock(number, location=location)
            )
    return {(level.location_number, level.variation_option_id): level for level in rows}


async def check_stock(
    report: DriftReport,
    state: StreamState,
    shopbox: ShopboxClient,
    rackbeat: RackbeatClient,
    config: DriftConfig,
) -> None:
    if not config.branch_locations:
        report.notes.append("stock: SYNC_BRANCH_LOCATIONS is empty, so stock is not compared")
        return
    pending = pending_counts(state, config)
    shop: dict[str, dict[tuple[str, str | None], Decimal]] = {}
    for branch in config.branch_locations:
        try:
            shop[branch] = {
                (row.uid, row.product_variance): row.quantity
                async for row in shopbox.iter_stock(branch, per_page=1000)
            }
        except ApiError as exc:
            report.differences.append(
                error_difference("stock", f"branch {branch}", "Shopbox stock", exc)
            )
    branches = {b: loc for b, loc in sorted(config.branch_locations.items()) if b in shop}
    by_item: dict[str, list[Binding]] = defaultdict(list)
    for _, event in state.bindings.items():
        binding = event.payload
        if binding.problem is None and binding.rackbeat_item_number and binding.shopbox_product_id:
            by_item[binding.rackbeat_item_number].append(binding)
    locations = sorted(set(config.branch_locations.values()))
    for number, group in sorted(by_item.items()):
        variants = any(b.option_ids() for b in group)
        read_at = utcnow()
        try:
            levels = await rackbeat_levels(rackbeat, number, locations, variants)
        except NotFound:
            report.differences += [missing_item_difference("stock", b, "Rackbeat") for b in group]
            continue
        except ApiError as exc:
            report.differences.append(error_difference("stock", number, "Rackbeat stock", exc))
            continue
        for binding in group:
            if not _in_shopbox(binding, state.shopbox_products):
                report.differences.append(missing_item_difference("stock", binding, "Shopbox"))
                continue
            for branch, location in branches.items():
                reading = _reading(
                    binding, branch, location, shop, levels, pending, read_at, config
                )
                reading = replace_reasons(
                    reading, state.dead_stock.get(stock_key(number, location))
                )
                report.checked["stock spots"] += 1
                difference = stock_difference(reading, config.mode)
                if difference is not None:
                    report.differences.append(difference)
                negative = negative_stock(reading)
                if negative is not None and negative not in report.negative_stock:
                    report.negative_stock.append(negative)


def _in_shopbox(binding: Binding, listed: set[str] | None) -> bool:
    """False only when the Shopbox listing was read and lacks the bound product."""
    return listed is None or binding.shopbox_product_id in listed


def _reading(
    binding: Binding,
    branch: str,
    location: int,
    shop: dict[str, dict[tuple[str, str | None], Decimal]],
    levels: dict[tuple[int, str | None], StockLevel],
    pending: PendingCounts,
    read_at: datetime,
    config: DriftConfig,
) -> StockSpotReading:
    number = binding.rackbeat_item_number or ""
    spot = (binding.sku, location)
    every = pending.every.pending(spot, read_at)
    level = levels.get((location, binding.variant_key())) or _zero_level(number, location)
    product = binding.shopbox_product_id or ""
    return StockSpotReading(
        sku=binding.sku,
        branch=branch,
        location=location,
        shopbox=shop[branch].get((product, binding.shopbox_variant_id), ZERO),
        rackbeat=level,
        buffer=config.safety.get(location, ZERO),
        pending=every,
        pending_dead_lettered=every - pending.live.pending(spot, read_at),
        dead_letter_reasons=tuple(sorted(pending.dead_reasons.get(spot, ()))),
        unsettled=pending.every.unsettled(spot, read_at),
    )


def replace_reasons(reading: StockSpotReading, stock_reason: str | None) -> StockSpotReading:
    if stock_reason is None:
        return reading
    reasons = (*reading.dead_letter_reasons, f"stock record: {stock_reason}")
    return dataclasses.replace(reading, dead_letter_reasons=reasons)


# ------------------------------------------------------------------------------------ sales


async def check_sales(
    report: DriftReport, state: StreamState, shopbox: ShopboxClient, config: DriftConfig
) -> None:
    def is_bound(item: sb.BasketItem) -> bool:
        return state.bound(item.product, item.product_variance, item.sku_code) is not None

    since = int(config.since.timestamp())
    async for basket in shopbox.iter_baskets(since=since, per_page=100):
        report.checked["baskets"] += 1
        record = state.ledger.get(basket.uid)
        dead = state.dead_sales.get(basket.uid)
        facts = BasketFacts(
            basket=basket,
            outcome=record.payload.outcome if record else None,
            streamed=frozenset(state.streamed.get(basket.uid, ())),
            dead_letter_reason=dead[0] if dead else None,
            unbound=tuple(unbound_lines(basket, is_bound)),
            branch_unmapped=bool(config.branch_locations)
            and (basket.branch or "") not in config.branch_locations,
        )
        difference = basket_difference(facts, config.now, config.grace)
        if difference is not None:
            report.differences.append(difference)


# ------------------------------------------------------------------------------------ run


async def build_report(
    kafka: KafkaSettings, shopbox: ShopboxClient, rackbeat: RackbeatClient, config: DriftConfig
) -> DriftReport:
    topics = Topics(kafka.topic_namespace)
    earliest = min(config.since, config.pending_since)
    state = await read_streams(kafka, topics, config.master, earliest)
    report = DriftReport()
    sections: dict[Section, Awaitable[None]] = {
        "items": check_items(report, state, shopbox, rackbeat, config),
        "stock": check_stock(report, state, shopbox, rackbeat, config),
        "sales": check_sales(report, state, shopbox, config),
    }
    for section, check in sections.items():
        try:
            await check
        except ApiError as exc:  # a listing failed: the section is incomplete, the rest runs
            report.differences.append(error_difference(section, "(section)", "listing", exc))
    return report


def report_json(report: DriftReport, config: DriftConfig) -> str:
    body = {
        "generated_at": config.now.isoformat(),
        "item_master": config.master,
        "since": config.since.isoformat(),
        "checked": dict(report.checked),
        "summary": report.summary(),
        "unexplained": report.unexplained,
        "errors": report.errors,
        "complete": report.errors == 0,
        "exit_code": report.exit_code,
        "notes": report.notes,
        "negative_stock": [asdict(n) for n in report.negative_stock],
        "differences": [asdict(d) for d in report.differences],
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


def print_report(console: Console, report: DriftReport, config: DriftConfig) -> None:
    titles = {"items": "Items", "stock": "Stock", "sales": "Sales"}
    for section in SECTIONS:
        rows = [d for d in report.differences if d.section == section]
        table = Table(
            "subject",
            "field",
            "expected",
            "actual",
            "cause",
            "reason",
            title=f"{titles[section]}: {len(rows)} differences",
        )
        for d in rows:
            style = {"manual-edit-or-missed-event": "red", "error": "yellow"}.get(d.cause)
            table.add_row(d.subject, d.field, d.expected, d.actual, d.cause, d.reason, style=style)
        console.print(table)
    summary = Table("section", *CAUSES, title="Summary")
    for name, counts in report.summary().items():
        summary.add_row(name, *(str(counts[c]) for c in CAUSES))
    console.print(summary)
    for note in report.notes:
        console.print(f"note: {note}")
    for n in report.negative_stock:
        console.print(
            f"negative stock: {n.sku} at Rackbeat location {n.location} is {n.rackbeat} "
            f"(Shopbox shows {n.shopbox}; negative stock is never written to Shopbox): count it"
        )
    checked = ", ".join(f"{n} {what}" for what, n in sorted(report.checked.items()))
    console.print(f"checked {checked or 'nothing'} (baskets since {config.since.isoformat()})")
    verdict = (
        "[green]no unexplained drift[/green]"
        if not report.unexplained
        else (f"[red]{report.unexplained} unexplained differences[/red]")
    )
    if report.errors:
        verdict += f"; [yellow]incomplete: {report.errors} API errors (rows `error`)[/yellow]"
    console.print(verdict)


def quiet_logs() -> None:
    """Warnings and errors only, on stderr: stdout is the report (a --json consumer parses it)."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    configure_logging("syncctl", LogSettings(level="WARNING", format="console"))
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime) -> datetime:
    """`24h`, `90m`, `2d`, `600s`, or an ISO 8601 time (UTC when it has no zone)."""
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def drift(
    since: Annotated[
        str, typer.Option(help="check baskets since: a duration (24h, 90m, 2d) or ISO time")
    ] = "24h",
    grace: Annotated[
        float, typer.Option(help="seconds a new basket may take to reach the sales stream")
    ] = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Compare items, stock and sales; label each difference with its probable cause.

    Read-only.

    \b
    Exit codes:
      0  every difference is explained
      1  a difference is unexplained (manual-edit-or-missed-event)
      2  incomplete: an API call failed (`error` rows), or bad arguments
      3  Kafka unreachable
    """
    quiet_logs()
    now = utcnow()
    try:
        since_at = parse_since(since, now)
    except ValueError:
        Console(stderr=True).print(f"[red]--since {since!r}:[/red] not a duration or ISO time")
        raise typer.Exit(2) from None
    report, config = asyncio.run(_run(since_at, timedelta(seconds=grace), now))
    console = Console()
    if as_json:
        console.out(report_json(report, config), highlight=False)
    else:
        print_report(console, report, config)
    raise typer.Exit(report.exit_code)


async def _run(since: datetime, grace: timedelta, now: datetime) -> tuple[DriftReport, DriftConfig]:
    kafka, sync, stock = KafkaSettings(), SyncSettings(), StockSettings()
    shopbox_settings, rackbeat_settings = ShopboxSettings(), RackbeatSettings()
    config = DriftConfig(
        master=sync.item_master,
        prices=PriceRules(
            sync.vat_percent,
            shopbox_settings.prices_include_vat,
            rackbeat_settings.prices_include_vat,
        ),
        branch_locations=sync.branch_locations,
        mode=stock.quantity,
        safety=stock.safety_buffer,
        since=since,
        pending_since=now - timedelta(hours=stock.sales_lookback_hours),
        grace=grace,
        now=now,
    )
    shopbox = shopbox_client(shopbox_settings)
    rackbeat = rackbeat_client(rackbeat_settings)
    try:
        return await build_report(kafka, shopbox, rackbeat, config), config
    finally:
        await shopbox.aclose()
        await rackbeat.aclose()
