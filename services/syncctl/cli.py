"""syncctl: the operator's CLI. It reads the streams and acts through them (create topics,
re-drive dead letters, replay a direction), never by writing to the two APIs behind the
services' backs. Commands live in small modules and register here.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from rich.console import Console
from rich.table import Table

from schemas.topics import TopicCreationFailed
from services.common.connection import ensure_catalog_topics
from services.common.dead_letters import redriven_positions
from services.common.lags import dead_letter_depths, group_lags
from services.common.settings import KafkaSettings, SyncSettings
from services.syncctl.dead_letters import dlq_app
from services.syncctl.doctor import doctor
from services.syncctl.drift import drift
from services.syncctl.initial_sync import initial_sync
from services.syncctl.namespace import catalog_names, describe, missing_pipeline_warning
from services.syncctl.replay import ReplayRefused, replay

app = typer.Typer(help="Operate the Shopbox <-> Rackbeat sync.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics of the pipeline.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(dlq_app, name="dlq")
console = Console()
NO_PIPELINE = 4  # exit code of `status` when the namespace holds none of the pipeline's topics
app.command("initial-sync")(initial_sync)
app.command("drift")(drift)
app.command("doctor")(doctor)


@topics_app.command("create")
def create_topics() -> None:
    """Create every missing topic of the catalog (safe to re-run)."""

    try:
        created = asyncio.run(ensure_catalog_topics(KafkaSettings()))
    except TopicCreationFailed as exc:  # the broker's reason, not a traceback
        console.print(f"[red]failed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))


@app.command()
def status(
    as_json: Annotated[
        bool,
        typer.Option("--json", help="machine-readable: {directions, lags: [...], dead_letters}"),
    ] = False,
) -> None:
    """The directions switched on, consumer lag per group and topic, and how many records wait
    in each dead-letter topic. Exits 3 when the namespace read has none of the pipeline's
    topics (a wrong KAFKA_TOPIC_NAMESPACE), so a script does not take empty tables for health."""
    kafka = KafkaSettings()
    warning = asyncio.run(missing_pipeline_warning(kafka))
    if warning:
        typer.echo(f"warning: {warning}", err=True)
    directions = directions_of(SyncSettings())
    lags = asyncio.run(group_lags(kafka, catalog_names(kafka.topic_namespace)))
    depths = asyncio.run(dead_letter_depths(kafka))
    redriven = asyncio.run(_redriven_counts(kafka, list(depths)))
    waiting = {topic: depth - redriven[topic] for topic, depth in depths.items()}
    if as_json:
        body = {
            "namespace": describe(kafka),
            "warning": warning,
            "directions": directions,
            "lags": [
                {
                    **asdict(row),
                    "lag": row.lag,
                    "oldest_waiting_at": _iso(row.oldest_waiting_at),
                }
                for row in lags
            ],
            "dead_letters": [
                {"topic": topic, "records": depth, "waiting": waiting[topic]}
                for topic, depth in sorted(depths.items())
            ],
        }
        typer.echo(json.dumps(body, indent=2))
        raise typer.Exit(NO_PIPELINE if warning else 0)
    console.print(f"Reading {describe(kafka)}")
    console.print(
        "Directions: sales always on; stock "
        + ("on" if directions["stock"] else "off")
        + f"; items master {directions['item_master']}"
    )
    # Group and topic names carry the namespace: fold them, never cut them with "…".
    table = Table(title="Consumer lag")
    for name in ("group", "topic"):
        table.add_column(name, overflow="fold")
    for name in ("committed", "end", "lag", "oldest waiting"):
        table.add_column(name, justify="right", no_wrap=True)
    now = datetime.now(UTC)
    for row in lags:
        waited = row.oldest_waiting_at
        table.add_row(
            row.group,
            row.topic,
            str(row.committed),
            str(row.end),
            str(row.lag),
            f"{(now - waited).total_seconds():.0f} s" if waited else "",
        )
    console.print(table)
    letters = Table(title="Dead letters (syncctl dlq list)")
    letters.add_column("dead-letter topic", overflow="fold")
    letters.add_column("records", justify="right")
    letters.add_column("waiting", justify="right")
    for topic, depth in sorted(depths.items()):
        letters.add_row(topic, str(depth), str(waiting[topic]))
    console.print(letters)
    if warning:
        raise typer.Exit(NO_PIPELINE)


def directions_of(sync: SyncSettings) -> dict[str, bool | str]:
    """What the merchant switched on (SYNC_STOCK_ENABLED, SYNC_ITEM_MASTER), as the services
    read it from the same environment."""
    return {"sales": True, "stock": sync.stock_enabled, "item_master": sync.item_master}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def _redriven_counts(kafka: KafkaSettings, topics: list[str]) -> dict[str, int]:
    return {topic: len(await redriven_positions(kafka, topic)) for topic in topics}


@app.command("replay")
def replay_command(
    group: Annotated[str, typer.Option(help="consumer group, e.g. order-writer")],
    topic: Annotated[str, typer.Option(help="topic the group reads, e.g. shopbox.sales.v1")],
    offset: Annotated[int | None, typer.Option(help="replay from this offset")] = None,
    since: Annotated[datetime | None, typer.Option(help="replay records since this time")] = None,
) -> None:
    """Move a stopped service's group back (default: to the start) so it re-reads a direction.
    Effects are idempotent, so a replay reproduces the same state without duplicates."""
    try:
        moved = asyncio.run(replay(KafkaSettings(), group, topic, offset=offset, since=since))
    except ReplayRefused as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from None
    for partition, target in sorted(moved.items()):
        console.print(f"{topic}[{partition}] -> offset {target}")


KAFKA_UNREACHABLE = 3


def main() -> None:
    """Kafka down is the one failure every command shares: say so in one line with the address,
    not a traceback through aiokafka."""
    try:
        app()
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        address = KafkaSettings().bootstrap_servers
        typer.echo(
            f"syncctl: cannot reach Kafka at {address} ({type(exc).__name__}). Is the broker "
            "running, and is KAFKA_BOOTSTRAP_SERVERS right (for the demo: source .state/demo.env)?",
            err=True,
        )
        raise SystemExit(KAFKA_UNREACHABLE) from None
