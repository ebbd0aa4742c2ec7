"""Whether the pipeline is already live, and the sync start point the initial sync sets.

The initial sync copies Shopbox's current stock into Rackbeat. That copy already reflects every
sale made before it, so (1) order-ingest must never sync those sales (the start point, `floor`
on the poll cursor, is set to the moment the copy starts), and (2) once sales flow into
Rackbeat as orders, a second copy would count them twice: Rackbeat's stock is overwritten with
Shopbox's figure while open orders still reserve those sales. So `initial-sync` refuses on a
live pipeline unless forced. The decisions are pure; `read_pipeline_state` reads Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.sales import POLL_CURSOR_KEY, SalesPollCursor, SalesPollCursorMoved
from schemas.topics import Topics
from services.common.readers import record_count
from services.common.settings import KafkaSettings
from services.common.views import CompactedView

INITIAL_SYNC_SOURCE = "syncctl/initial-sync"


@dataclass(frozen=True)
class PipelineState:
    ledger_records: int
    sales_records: int
    cursor: SalesPollCursorMoved | None


def live_reasons(state: PipelineState) -> list[str]:
    """Why the pipeline counts as live (empty: it does not). A cursor the initial sync itself
    wrote is not a sign of life: re-running (resuming) before go-live is fine, and moves the
    start point to the re-run."""
    reasons = []
    if state.ledger_records:
        reasons.append(f"{state.ledger_records} order records on the ledger (orders.synced.v1)")
    if state.sales_records:
        reasons.append(f"{state.sales_records} sale events on shopbox.sales.v1")
    if state.cursor is not None and state.cursor.source != INITIAL_SYNC_SOURCE:
        floor = state.cursor.payload.floor
        since = (
            f"sync start point {describe_time(floor)}" if floor is not None else "no start point"
        )
        reasons.append(f"order-ingest has started ({since})")
    return reasons


def sets_start_point(state: PipelineState) -> bool:
    """The initial sync writes its start point on a fresh pipeline (replacing one it wrote
    itself), and on a forced run only where none exists: a running order-ingest keeps its own."""
    return state.cursor is None or not live_reasons(state)


def start_point(started_at: float) -> SalesPollCursor:
    floor = int(started_at)
    return SalesPollCursor(creation_time=floor, uids_at_time=[], floor=floor)


def refusal(reasons: list[str]) -> str:
    return (
        "The pipeline is already live: "
        + "; ".join(reasons)
        + ". Running initial-sync now would double-count stock: it overwrites Rackbeat's stock "
        "with Shopbox's current figures, which already include sales that are (or are about to "
        "be) booked as Rackbeat orders. After go-live stock is kept in sync by the services; "
        "`syncctl drift` shows what differs. Use --force only if you know Rackbeat holds no "
        "orders from these sales."
    )


def describe_time(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, UTC).isoformat(timespec="seconds")


async def read_pipeline_state(kafka: KafkaSettings) -> PipelineState:
    topics = Topics(kafka.topic_namespace)
    return PipelineState(
        ledger_records=await record_count(kafka, topics.orders_synced),
        sales_records=await record_count(kafka, topics.sales),
        cursor=await read_cursor(kafka, topics.sales_cursor),
    )


async def read_cursor(kafka: KafkaSettings, topic: str) -> SalesPollCursorMoved | None:
    if await record_count(kafka, topic) == 0:
        return None
    view = CompactedView(kafka, topic, SalesPollCursorMoved)
    await view.start()
    try:
        await view.wait_caught_up()
        return view.get(POLL_CURSOR_KEY)
    finally:
        await view.stop()
