"""The topic catalog (DESIGN.md section 3) and an idempotent way to create the topics.

Every service resolves names through `Topics(namespace)`, so a test or a second tenant can run the
whole pipeline on its own set of topics (`TOPIC_NAMESPACE=t42.` gives `t42.shopbox.sales.v1`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    compacted: bool
    partitions: int = 3
    retention_days: int | None = None
    dead_letters: bool = False

    def config(self) -> dict[str, str]:
        config = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_days is not None:
            config["retention.ms"] = str(self.retention_days * DAY_MS)
        return config


CATALOG: tuple[TopicSpec, ...] = (
    TopicSpec(
        "shopbox.sales.v1", "basket id", compacted=False, retention_days=365, dead_letters=True
    ),
    TopicSpec("orders.synced.v1", "basket id", compacted=True),
    TopicSpec("rackbeat.stock.v1", "item number|location", compacted=True, dead_letters=True),
    TopicSpec("stock.pushed.v1", "sku|branch", compacted=False, retention_days=30),
    TopicSpec("shopbox.products.v1", "product id", compacted=True, dead_letters=True),
    TopicSpec("rackbeat.products.v1", "item number", compacted=True, dead_letters=True),
    TopicSpec("items.bindings.v1", "sku", compacted=True, partitions=1),
    TopicSpec("shopbox.sales.cursor.v1", "poller name", compacted=True, partitions=1),
)


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


def all_specs() -> list[TopicSpec]:
    """The catalog plus one long-retention dead-letter topic per consumed stream."""
    specs = list(CATALOG)
    for spec in CATALOG:
        if spec.dead_letters:
            specs.append(
                TopicSpec(dlq_name(spec.name), spec.key, compacted=False, retention_days=365)
            )
    return specs


@dataclass(frozen=True)
class Topics:
    """Topic names under an optional namespace prefix."""

    namespace: str = ""

    def name(self, base: str) -> str:
        return f"{self.namespace}{base}"

    @property
    def sales(self) -> str:
        return self.name("shopbox.sales.v1")

    @property
    def orders_synced(self) -> str:
        return self.name("orders.synced.v1")

    @property
    def stock(self) -> str:
        return self.name("rackbeat.stock.v1")

    @property
    def stock_pushed(self) -> str:
        return self.name("stock.pushed.v1")

    @property
    def shopbox_products(self) -> str:
        return self.name("shopbox.products.v1")

    @property
    def rackbeat_products(self) -> str:
        return self.name("rackbeat.products.v1")

    @property
    def bindings(self) -> str:
        return self.name("items.bindings.v1")

    @property
    def sales_cursor(self) -> str:
        """order-ingest's durable poll cursor (compacted, one key per poller)."""
        return self.name("shopbox.sales.cursor.v1")


class TopicCreationFailed(RuntimeError):
    """The broker refused to create a topic; the message carries its reason."""


async def ensure_topics(
    admin: AIOKafkaAdminClient,
    namespace: str = "",
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
) -> list[str]:
    """Create every catalog topic that is missing; return the names created. Safe to re-run.
    Existing topics are left as they are (partitions, replication)."""
    existing = set(await admin.list_topics())
    wanted = [
        NewTopic(
            name=f"{namespace}{spec.name}",
            num_partitions=partitions or spec.partitions,
            replication_factor=replication_factor,
            topic_configs=spec.config(),
        )
        for spec in all_specs()
        if f"{namespace}{spec.name}" not in existing
    ]
    if not wanted:
        return []
    response = await admin.create_topics(wanted)
    created = []
    for name, code, message in _topic_errors(response):
        if code == 0:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:  # a racing creator is fine
            raise TopicCreationFailed(f"creating topic {name} failed: error {code} {message or ''}")
    return created


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    """(name, error code, message) per topic; the response version decides the tuple width."""
    return [(row[0], row[1], row[2] if len(row) > 2 else None) for row in response.topic_errors]  # type: ignore[attr-defined]
