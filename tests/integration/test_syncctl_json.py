"""`syncctl dlq list` and `syncctl status` as an operator or a script runs them: processes on the
real broker in a fresh namespace. `--json` gives every field whole; the table of an 80-column
terminal folds long keys instead of cutting them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.topics import Topics, dlq_name

REPO = Path(__file__).resolve().parents[2]
LONG_KEY = "shopbox-basket-" + "7" * 90  # longer than a whole 80-column terminal
REASON = "MissingBinding: no Rackbeat item bound to SKU 'BRD-0009'"


def syncctl(namespace: str, bootstrap: str, *args: str, columns: int = 80, **settings: str) -> str:
    env = {
        **os.environ,
        **settings,
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "COLUMNS": str(columns),
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.syncctl", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


async def dead_letter_two(bootstrap: str, topics: Topics) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key in (LONG_KEY, "short"):
            headers = {
                "x-dlq-reason": REASON,
                "x-dlq-origin": "order-writer",
                "x-dlq-origin-topic": topics.sales,
            }
            await producer.send_and_wait(
                dlq_name(topics.sales),
                b"{}",
                key=key.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
                partition=0,
            )
    finally:
        await producer.stop()


def column(table: str, header: str) -> str:
    """The cells of one column of a rich table, joined (a folded cell spans several lines)."""
    heads = [[c.strip() for c in line.split("┃")] for line in table.splitlines() if "┃" in line]
    index = next(cells.index(header) for cells in heads if header in cells)
    rows = [line for line in table.splitlines() if line.startswith("│")]
    return "".join(line.split("│")[index].strip() for line in rows)


async def test_dlq_list_json_has_every_field_whole_and_the_table_folds_long_keys(
    kafka_bootstrap: str, topic_namespace: str
) -> None:
    topics = Topics(topic_namespace)
    await dead_letter_two(kafka_bootstrap, topics)
    syncctl(topic_namespace, kafka_bootstrap, "dlq", "redrive", "--topic", "shopbox.sales.v1",
            "--offset", "0/1")  # fmt: skip

    letters: list[dict[str, Any]] = json.loads(
        syncctl(topic_namespace, kafka_bootstrap, "dlq", "list", "--json")
    )
    assert [(d["key"], d["position"], d["redriven"]) for d in letters] == [
        (LONG_KEY, "0/0", False),
        ("short", "0/1", True),
    ]
    first = letters[0]
    assert first["topic"] == dlq_name(topics.sales)
    assert (first["origin"], first["reason"]) == ("order-writer", REASON)
    assert isinstance(first["age_s"], int) and 0 <= first["age_s"] < 120
    assert set(first) == {"topic", "position", "key", "origin", "age_s", "redriven", "reason"}

    table = syncctl(topic_namespace, kafka_bootstrap, "dlq", "list")
    assert "…" not in table
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert rows and all(line.rstrip().endswith("│") for line in rows)  # not cropped at 80
    assert LONG_KEY in column(table, "key")
    assert "2 dead letters" in table


async def test_status_json_reports_lag_and_waiting_dead_letters(
    kafka_bootstrap: str, topic_namespace: str, group_id: str
) -> None:
    topics = Topics(topic_namespace)
    await dead_letter_two(kafka_bootstrap, topics)
    now_ms = int(time.time() * 1000)
    stamps = [now_ms - minutes * 60_000 for minutes in (30, 20, 10)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(
                topics.sales, b"{}", key=f"k{n}".encode(), partition=0, timestamp_ms=stamps[n]
            )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topics.sales, 0)])
        await consumer.commit({TopicPartition(topics.sales, 0): 1})
    finally:
        await consumer.stop()

    body = json.loads(
        syncctl(
            topic_namespace,
            kafka_bootstrap,
            "status",
            "--json",
            SYNC_ITEM_MASTER="rackbeat",
            SYNC_STOCK_ENABLED="false",
        )
    )
    assert body["directions"] == {"sales": True, "stock": False, "item_master": "rackbeat"}
    table = syncctl(topic_namespace, kafka_bootstrap, "status", SYNC_ITEM_MASTER="none")
    assert "stock on; items master none" in table
    assert group_id in column(table, "group")  # folded at 80 columns, never cut with "…"
    (row,) = (r for r in body["lags"] if r["group"] == group_id)
    oldest_waiting = datetime.fromisoformat(row.pop("oldest_waiting_at"))
    assert row == {"group": group_id, "topic": topics.sales, "committed": 1, "end": 3, "lag": 2}
    # The oldest unprocessed record is the one at the committed offset (20 minutes old).
    assert oldest_waiting == datetime.fromtimestamp(stamps[1] / 1000, UTC)
    depths = {d["topic"]: d for d in body["dead_letters"]}
    assert depths[dlq_name(topics.sales)] == {
        "topic": dlq_name(topics.sales),
        "records": 2,
        "waiting": 2,
    }
    assert all(d["records"] == 0 for t, d in depths.items() if t != dlq_name(topics.sales))
