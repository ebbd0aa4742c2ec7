"""`syncctl dlq`: list dead letters and re-drive them to the topic they came from.

A dead letter is the original record (value, key, headers) plus `x-dlq-*` headers that say why
and where from (services.common.dead_letters). Re-driving publishes the original value and key
back to the origin topic, then records `partition/offset` in `<dlq>.redriven` (a compacted topic
of the catalog), so a second `redrive` skips what was already re-driven unless `--force`.
Re-driving is safe even twice: the consumers' effects are idempotent.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from schemas.topics import Topics, dlq_name, redrive_log_name
from services.common.connection import client_kwargs, ensure_catalog_topics
from services.common.dead_letters import (
    REDRIVEN_FROM,
    DeadLetter,
    read_dead_letters,
    redriven_positions,
)
from services.common.settings import KafkaSettings

dlq_app = typer.Typer(
    help="Dead letters: list them, re-drive them once fixed.", no_args_is_help=True
)
console = Console()


def dead_letter_topics(namespace: str, source: str | None) -> list[str]:
    """The namespaced dead-letter topics: of one source topic, or of every consumed stream."""
    if source is not None:
        return [f"{namespace}{dlq_name(source)}"]
    return Topics(namespace).dead_letters()


@dataclass(frozen=True)
class RedriveResult:
    redriven: list[DeadLetter]
    skipped: list[DeadLetter]
    """Already re-driven before (use force to send again)."""


def select(letters: list[DeadLetter], positions: list[str], everything: bool) -> list[DeadLetter]:
    """Dead letters by `partition/offset` (or a bare offset when it names one record)."""
    if everything:
        return letters
    chosen = []
    for wanted in positions:
        hits = [d for d in letters if wanted in (d.position, str(d.offset))]
        if len(hits) != 1:
            found = "none" if not hits else "several (use partition/offset)"
            raise ValueError(f"offset {wanted}: {found} found")
        chosen.append(hits[0])
    return chosen


async def redrive(
    kafka: KafkaSettings,
    source: str,
    *,
    positions: list[str],
    everything: bool = False,
    force: bool = False,
) -> RedriveResult:
    await ensure_catalog_topics(kafka)  # the re-drive log, on a pipeline that never started
    dlq_topic = f"{kafka.topic_namespace}{dlq_name(source)}"
    letters = select(await read_dead_letters(kafka, dlq_topic), positions, everything)
    done = await redriven_positions(kafka, dlq_topic)
    log_topic = redrive_log_name(dlq_topic)
    producer = AIOKafkaProducer(**client_kwargs(kafka), enable_idempotence=True)
    await producer.start()
    sent, skipped = [], []
    try:
        for letter in letters:
            if letter.position in done and not force:
                skipped.append(letter)
                continue
            origin = letter.origin_topic or f"{kafka.topic_namespace}{source}"
            headers = letter.original_headers()
            headers.append((REDRIVEN_FROM, f"{dlq_topic}/{letter.position}".encode()))
            await producer.send_and_wait(origin, letter.value, key=letter.key, headers=headers)
            stamp = datetime.now(UTC).isoformat()
            await producer.send_and_wait(
                log_topic,
                f'{{"redriven_at": "{stamp}", "to": "{origin}"}}'.encode(),
                key=letter.position.encode(),
            )
            sent.append(letter)
    finally:
        await producer.stop()
    return RedriveResult(sent, skipped)


@dataclass(frozen=True)
class ListedLetter:
    """One row of `dlq list` (and one object of `dlq list --json`)."""

    topic: str
    position: str
    key: str
    origin: str
    age_s: int
    redriven: bool
    reason: str

    @classmethod
    def of(cls, letter: DeadLetter, redriven: bool, now_ms: int) -> ListedLetter:
        return cls(
            topic=letter.topic,
            position=letter.position,
            key=letter.key.decode(errors="replace") if letter.key else "",
            origin=letter.origin,
            age_s=max(0, (now_ms - letter.timestamp_ms) // 1000),
            redriven=redriven,
            reason=letter.reason,
        )


async def list_letters(kafka: KafkaSettings, source: str | None) -> list[tuple[DeadLetter, bool]]:
    """Every dead letter (of one source topic, or all) and whether it was re-driven."""
    found = []
    for dlq in dead_letter_topics(kafka.topic_namespace, source):
        done = await redriven_positions(kafka, dlq)
        found += [
            (letter, letter.position in done) for letter in await read_dead_letters(kafka, dlq)
        ]
    return found


def letters_table(letters: list[tuple[DeadLetter, bool]], now_ms: int) -> Table:
    # Position and key are what `redrive` and a search need whole: fold, never cut with "…".
    table = Table()
    table.add_column("dead-letter topic", overflow="fold")
    table.add_column("at", no_wrap=True)
    table.add_column("key", overflow="fold")
    for name in ("origin", "age", "re-driven", "reason"):
        table.add_column(name, overflow="fold")
    for d, redriven in letters:
        key = d.key.decode(errors="replace") if d.key else ""
        mark = "yes" if redriven else ""
        table.add_row(d.topic, d.position, key, d.origin, d.age(now_ms), mark, d.reason)
    return table


@dlq_app.command("list")
def list_command(
    topic: Annotated[
        str | None, typer.Option(help="source topic, e.g. shopbox.sales.v1 (default: all)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="a JSON array, one object per dead letter")
    ] = False,
) -> None:
    """Dead letters with their reason, origin and age; re-driven ones are marked."""
    letters = asyncio.run(list_letters(KafkaSettings(), topic))
    now_ms = int(time.time() * 1000)
    if as_json:
        rows = [asdict(ListedLetter.of(d, done, now_ms)) for d, done in letters]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    console.print(letters_table(letters, now_ms))
    console.print(f"{len(letters)} dead letters")


@dlq_app.command("redrive")
def redrive_command(
    topic: Annotated[str, typer.Option(help="source topic, e.g. shopbox.sales.v1")],
    offset: Annotated[
        list[str] | None, typer.Option(help="partition/offset as `dlq list` shows; repeatable")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter of the topic")] = False,
    force: Annotated[bool, typer.Option(help="also those re-driven before")] = False,
) -> None:
    """Publish dead letters' original value and key back to their origin topic, once."""
    if not offset and not all_:
        console.print("[red]say which:[/red] --offset P/O (repeatable) or --all")
        raise typer.Exit(2)
    try:
        result = asyncio.run(
            redrive(KafkaSettings(), topic, positions=offset or [], everything=all_, force=force)
        )
    except ValueError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from None
    for letter in result.redriven:
        console.print(f"re-driven {letter.position} -> {letter.origin_topic}")
    for letter in result.skipped:
        console.print(f"skipped {letter.position}: re-driven before (--force to send again)")
    console.print(f"{len(result.redriven)} re-driven, {len(result.skipped)} skipped")
