"""`syncctl initial-sync`: copy the current Shopbox items and stock into Rackbeat, once.

It runs item-mapper's own apply code (domain.items.to_rackbeat.py, stock_copy.py) in
this process and publishes the resulting SKU bindings to `items.bindings.v1`, the stream the
other services read. Why not publish snapshots for item-mapper to apply (docs/decisions/0007):
the initial sync must work whatever SYNC_ITEM_MASTER says and without item-mapper running; the
stock copy is a one-off that must not sit in a replayable compacted topic (a replay months later
would reset Rackbeat stock to setup-day figures); and a progress bar and `--dry-run` need each
item's outcome as it happens. The API calls are the same, so the rate limit bounds both designs.

Idempotent and resumable by compare-before-write: Rackbeat is read in bulk first (all products
and variations, about one call per 1000 products), only differing fields and stock figures are
written, and variations have deterministic names, so a re-run after a crash or Ctrl-C picks up
where the last one stopped, and a run with nothing left to do makes no writes.

It also sets the sync start point (services/syncctl/go_live.py): sales made before the copy
started are in the copied stock, so order-ingest never syncs them. And it refuses to run on a
live pipeline (orders on the ledger, sales on the stream, order-ingest started) unless --force:
a second copy would count the sales booked since twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import typer
from faststream.kafka import KafkaBroker
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.items.rules import PriceRules, duplicate_skus, shopbox_snapshot
from domain.items.stock_copy import (
    StockByRef,
    StockWrite,
    copy_stock,
    negative_figures,
    stock_by_location,
    stock_targets,
)
from domain.items.to_rackbeat import Outcome, RackbeatCatalog, RackbeatWriter
from schemas.items import ProductSnapshot
from schemas.sales import POLL_CURSOR_KEY, SalesPollCursorMoved
from schemas.topics import Topics
from services.clients.factory import rackbeat_client, shopbox_client
from services.clients.rackbeat import RackbeatClient
from services.clients.shopbox import InventoryRow, ShopboxClient
from services.common.bindings import BindingPublisher, BindingsView
from services.common.connection import ensure_catalog_topics
from services.common.kafka import make_broker, publish_event
from services.common.settings import (
    ItemMapperSettings,
    KafkaSettings,
    RackbeatSettings,
    ShopboxSettings,
    SyncSettings,
)
from services.syncctl.go_live import (
    INITIAL_SYNC_SOURCE,
    PipelineState,
    describe_time,
    live_reasons,
    read_pipeline_state,
    refusal,
    sets_start_point,
    start_point,
)

console = Console()
SOURCE = INITIAL_SYNC_SOURCE


@dataclass
class SyncReport:
    actions: Counter[str] = field(default_factory=Counter)
    outcomes: list[Outcome] = field(default_factory=list)
    stock_writes: list[StockWrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bindings_published: int = 0
    seconds: float = 0.0

    @property
    def writes(self) -> int:
        return sum(o.writes for o in self.outcomes) + len(self.stock_writes)


@dataclass
class InitialSync:
    shopbox: ShopboxClient
    rackbeat: RackbeatClient
    sync: SyncSettings
    prices: PriceRules
    group: int
    publisher: BindingPublisher | None
    dry_run: bool = False
    concurrency: int = 8

    async def load(self) -> tuple[list[ProductSnapshot], StockByRef, list[str]]:
        products = [shopbox_snapshot(p) async for p in self.shopbox.iter_products(per_page=500)]
        rows: dict[str, list[InventoryRow]] = {}
        for branch in await self.shopbox.branches():
            rows[branch.uid] = [
                row async for row in self.shopbox.iter_stock(branch.uid, per_page=1000)
            ]
        stock, unmapped = stock_by_location(rows, self.sync.branch_locations)
        return products, stock, unmapped

    async def run(
        self,
        products: list[ProductSnapshot],
        stock: StockByRef,
        on_done: Callable[[Outcome], None] = lambda _: None,
    ) -> SyncReport:
        report = SyncReport()
        started = time.monotonic()
        catalog = RackbeatCatalog(self.rackbeat)
        await catalog.preload()
        writer = RackbeatWriter(
            self.rackbeat, catalog, self.prices, group=self.group, dry_run=self.dry_run
        )
        duplicates = duplicate_skus(products)
        locations = sorted(set(self.sync.branch_locations.values()))
        gate = asyncio.Semaphore(self.concurrency)

        async def one(snapshot: ProductSnapshot) -> None:
            async with gate:
                outcome = await writer.apply(snapshot, duplicates)
                # Await first, then add: `report.n += await ...` reads n before the await and
                # loses the other tasks' increments made meanwhile.
                published = 0
                if self.publisher is not None:
                    published = await self.publisher.publish(outcome.bindings, source=SOURCE)
                report.bindings_published += published
                targets, notes = stock_targets(snapshot, outcome, stock, locations)
                report.notes.extend(notes)
                written = await copy_stock(
                    self.rackbeat, targets, fresh=outcome.fresh, dry_run=self.dry_run
                )
                report.stock_writes.extend(written)
            report.outcomes.append(outcome)
            report.actions[outcome.action] += 1
            on_done(outcome)

        await asyncio.gather(*(one(p) for p in sorted(products, key=lambda p: p.product_id)))
        report.seconds = time.monotonic() - started
        return report


def refuse_direction(source: str) -> None:
    if source != "shopbox":
        console.print(
            f"[red]initial-sync --from {source} is not possible.[/red] The initial sync copies "
            "Shopbox items and stock INTO Rackbeat, once, at setup; it cannot go the other way "
            "(Shopbox's integration article says so). To keep Shopbox following Rackbeat, set "
            "SYNC_ITEM_MASTER=rackbeat and let item-mapper sync edits as they happen."
        )
        raise typer.Exit(2)


def initial_sync(
    source: str = typer.Option("shopbox", "--from", help="Only 'shopbox' is allowed."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what would change; write nothing."
    ),
    concurrency: int | None = typer.Option(
        None, help="Products in parallel (rate limit still holds)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Run even though the pipeline is live (stock may be double-counted).",
    ),
) -> None:
    """Copy current Shopbox items and stock per branch into Rackbeat, once, before the services
    start (idempotent, resumable). Refuses on a live pipeline unless --force."""
    refuse_direction(source)
    try:
        report = asyncio.run(_run(dry_run=dry_run, concurrency=concurrency, force=force))
    except KeyboardInterrupt:
        console.print(
            "[yellow]Interrupted.[/yellow] Run it again to finish: it skips what is done."
        )
        raise typer.Exit(130) from None
    print_report(report, dry_run=dry_run)


async def check_go_live(kafka: KafkaSettings, *, dry_run: bool, force: bool) -> PipelineState:
    """Refuse (exit 2) on a live pipeline unless forced; a dry run only warns."""
    if not dry_run:
        await ensure_catalog_topics(kafka)  # the cursor's topic is compacted: not auto-created
    state = await read_pipeline_state(kafka)
    reasons = live_reasons(state)
    if not reasons:
        return state
    if dry_run:
        console.print(f"[red]Warning:[/red] {refusal(reasons)} A real run refuses without --force.")
    elif not force:
        console.print(f"[red]initial-sync refused.[/red] {refusal(reasons)}")
        raise typer.Exit(2)
    else:
        console.print(f"[yellow]--force: running on a live pipeline.[/yellow] {'; '.join(reasons)}")
    return state


async def set_start_point(broker: KafkaBroker, kafka: KafkaSettings, started_at: float) -> None:
    cursor = start_point(started_at)
    topic = Topics(kafka.topic_namespace).sales_cursor
    await publish_event(
        broker, topic, POLL_CURSOR_KEY, SalesPollCursorMoved.of(cursor, source=SOURCE)
    )
    console.print(
        f"Sync start point set to {describe_time(cursor.creation_time)}: sales made before it "
        "are in the copied stock and are never synced as orders."
    )


async def _run(*, dry_run: bool, concurrency: int | None, force: bool = False) -> SyncReport:
    started_at = time.time()
    kafka, sync, own = KafkaSettings(), SyncSettings(), ItemMapperSettings()
    state = await check_go_live(kafka, dry_run=dry_run, force=force)
    shopbox_settings, rackbeat_settings = ShopboxSettings(), RackbeatSettings()
    shopbox = shopbox_client(shopbox_settings)
    rackbeat = rackbeat_client(rackbeat_settings)
    prices = PriceRules(
        sync.vat_percent, shopbox_settings.prices_include_vat, rackbeat_settings.prices_include_vat
    )
    broker = view = None
    try:
        if not dry_run:
            topic = Topics(kafka.topic_namespace).bindings
            broker = make_broker(kafka, client_id="syncctl-initial-sync")
            await broker.start()
            view = BindingsView(kafka, topic)
            await view.start()
            await view.wait_caught_up()
            if sets_start_point(state):
                await set_start_point(broker, kafka, started_at)
            else:
                console.print("The sync start point order-ingest uses is left as it is.")
        job = InitialSync(
            shopbox,
            rackbeat,
            sync,
            prices,
            own.rackbeat_group,
            BindingPublisher(broker, Topics(kafka.topic_namespace).bindings, view)
            if broker
            else None,
            dry_run=dry_run,
            concurrency=concurrency or own.initial_sync_concurrency,
        )
        with console.status("Reading Shopbox products and stock..."):
            products, stock, unmapped = await job.load()
        if unmapped:
            console.print(
                f"[yellow]Stock of branches {', '.join(unmapped)} is not copied:[/yellow] "
                "they have no Rackbeat location in SYNC_BRANCH_LOCATIONS."
            )
        with Progress(
            TextColumn("[bold]initial sync"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("", total=len(products))
            actions: Counter[str] = Counter()

            def done(outcome: Outcome) -> None:
                actions[outcome.action] += 1
                summary = " ".join(f"{k} {v}" for k, v in sorted(actions.items()))
                progress.update(task, advance=1, description=summary)

            report = await job.run(products, stock, done)
        report.notes[:0] = [f"branch {b} has no Rackbeat location" for b in unmapped]
        return report
    finally:
        if view is not None:
            await view.stop()
        if broker is not None:
            await broker.stop()
        await shopbox.aclose()
        await rackbeat.aclose()


def print_report(report: SyncReport, *, dry_run: bool) -> None:
    done = "to write" if dry_run else "written"
    if dry_run:
        for outcome in sorted(report.outcomes, key=lambda o: o.product_id):
            if outcome.action in ("created", "updated"):
                console.print(
                    f"{'create' if outcome.action == 'created' else 'update'} "
                    f"{outcome.item_number}: {', '.join(outcome.changes)}"
                )
        for write in report.stock_writes:
            t = write.target
            console.print(f"stock {t.sku} at location {t.location}: {write.before} -> {t.quantity}")
    for outcome in report.outcomes:
        if outcome.action == "skipped":
            console.print(
                f"[yellow]skip[/yellow] Shopbox product {outcome.product_id}: {outcome.reason}"
            )
    for note in report.notes:
        console.print(f"[yellow]note[/yellow] {note}")
    for target in negative_figures(report.stock_writes):
        console.print(
            f"[yellow]negative stock[/yellow] {target.sku} at location {target.location}: "
            f"{target.quantity} {'goes' if dry_run else 'went'} to Rackbeat as it is; Shopbox "
            "will show 0 (stock-publisher never writes negative stock): count it"
        )
    table = Table(title=f"Initial sync ({'dry run' if dry_run else 'done'})")
    table.add_column("what")
    table.add_column("count", justify="right")
    for action in ("created", "updated", "unchanged", "skipped"):
        table.add_row(f"products {action}", str(report.actions[action]))
    table.add_row(f"stock figures {done}", str(len(report.stock_writes)))
    table.add_row(f"Rackbeat writes {'to make' if dry_run else 'made'}", str(report.writes))
    table.add_row("bindings published", str(report.bindings_published))
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)
