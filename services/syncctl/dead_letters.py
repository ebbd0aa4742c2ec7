"""`syncctl dlq`: list dead letters and re-drive them to the topic they came from.

A dead letter is the original record (value, key, headers) plus `x-dlq-*` headers that say why
and where from (services.common.kafka). Re-driving publishes the original value and key back to
the origin topic, then records `partition/offset` in `<dlq>.redriven` (a small compacted topic,
created on first use), so a second `redrive` skips what was already re-driven unless `--force`.
Re-driving is safe even twice: the consumers' effects are idempotent.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from rich.console import Console
from rich.table import Table

from schemas.topics import all_specs, dlq_name
from services.common.kafka import client_kwargs, topic_partitions
from services.common.readers import open_reader
from services.common.settings import KafkaSettings

dlq_app = typer.Typer(
    help="Dead letters: list them, re-drive them once fixed.", no_args_is_help=True
)
console = Console()


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        """From an aiokafka ConsumerRecord of a dead-letter topic."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers={k: v.decode(errors="replace") for k, v in record.headers or ()},
            timestamp_ms=record.timestamp,
        )

    @property
    def position(self) -> str:
        return f"{self.partition}/{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get("x-dlq-reason", "(no reason recorded)")

    @property
    def origin_topic(self) -> str | None:
        return self.headers.get("x-dlq-origin-topic")

    @property
    def origin(self) -> str:
        return self.headers.get("x-dlq-origin", "?")

    def age(self, now_ms: int) -> str:
        seconds = max(0, (now_ms - self.timestamp_ms) // 1000)
        if seconds < 120:
            return f"{seconds}s"
        if seconds < 7200:
            return f"{seconds // 60}m"
        return f"{seconds // 3600}h"


def redrive_log_name(dlq_topic: str) -> str:
    return f"{dlq_topic}.redriven"


def dead_letter_topics(namespace: str, source: str | None) -> list[str]:
    """The namespaced dead-letter topics: of one source topic, or of every consumed stream."""
    if source is not None:
        return [f"{namespace}{dlq_name(source)}"]
    return [f"{namespace}{s.name}" for s in all_specs() if s.name.endswith(".dlq")]


async def read_topic(kafka: KafkaSettings, topic: str) -> list[DeadLetter]:
    """Every record on `topic` from the start to its current end (none if it does not exist)."""
    opened = await open_reader(kafka, topic)
    if opened is None:
        return []
    consumer, tps = opened
    try:
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[DeadLetter] = []
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, tp_records in batch.items():
                records += [DeadLetter.of(r) for r in tp_records if r.offset < ends[tp]]
        return sorted(records, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def redriven_positions(kafka: KafkaSettings, dlq_topic: str) -> set[str]:
    return {
        record.key.decode()
        for record in await read_topic(kafka, redrive_log_name(dlq_topic))
        if record.key and record.value is not None
    }


async def _ensure_redrive_log(kafka: KafkaSettings, topic: str) -> None:
    if await topic_partitions(kafka, topic):
        return
    admin = AIOKafkaAdminClient(**client_kwargs(kafka))
    await admin.start()
    try:
        new = NewTopic(
            topic, 1, kafka.replication_factor, topic_configs={"cleanup.policy": "compact"}
        )
        response = await admin.create_topics([new])
        for _, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"could not create {topic}: error {code}")
    finally:
        await admin.close()


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
    dlq_topic = f"{kafka.topic_namespace}{dlq_name(source)}"
    letters = select(await read_topic(kafka, dlq_topic), positions, everything)
    done = await redriven_positions(kafka, dlq_topic)
    log_topic = redrive_log_name(dlq_topic)
    await _ensure_redrive_log(kafka, log_topic)
    producer = AIOKafkaProducer(**client_kwargs(kafka), enable_idempotence=True)
    await producer.start()
    sent, skipped = [], []
    try:
        for letter in letters:
            if letter.position in done and not force:
                skipped.append(letter)
                continue
            origin = letter.origin_topic or f"{kafka.topic_namespace}{source}"
            headers = [
                (k, v.encode()) for k, v in letter.headers.items() if not k.startswith("x-dlq-")
            ]
            headers.append(("x-redriven-from", f"{dlq_topic}/{letter.position}".encode()))
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
        found += [(letter, letter.position in done) for letter in await read_topic(kafka, dlq)]
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
