"""The topic catalog (docs/architecture.md) and an idempotent way to create the topics.

Every service resolves names through `Topics(namespace)`, so a test or a second tenant can run the
whole pipeline on its own set of topics (`TOPIC_NAMESPACE=t42.` gives `t42.shopbox.sales.v1`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

DAY_MS = 24 * 3600 * 1000

# Base names (without a namespace); `Topics(namespace)` gives the full ones.
SALES = "shopbox.sales.v1"
ORDERS_SYNCED = "orders.synced.v1"
STOCK = "rackbeat.stock.v1"
STOCK_PUSHED = "stock.pushed.v1"
SHOPBOX_PRODUCTS = "shopbox.products.v1"
RACKBEAT_PRODUCTS = "rackbeat.products.v1"
BINDINGS = "items.bindings.v1"
SALES_CURSOR = "shopbox.sales.cursor.v1"
WEBHOOK_TOKEN = "stock-publisher.webhook.v1"  # noqa: S105 - a topic name


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
    TopicSpec(SALES, "basket id", compacted=False, retention_days=365, dead_letters=True),
    TopicSpec(ORDERS_SYNCED, "basket id", compacted=True),
    TopicSpec(STOCK, "item number|location", compacted=True, dead_letters=True),
    TopicSpec(STOCK_PUSHED, "sku|branch", compacted=False, retention_days=30),
    TopicSpec(SHOPBOX_PRODUCTS, "product id", compacted=True, dead_letters=True),
    TopicSpec(RACKBEAT_PRODUCTS, "item number", compacted=True, dead_letters=True),
    TopicSpec(BINDINGS, "sku", compacted=True, partitions=1),
    TopicSpec(SALES_CURSOR, "poller name", compacted=True, partitions=1),
    # The Rackbeat webhook token (a secret: same ACLs as the rest), learned on registration.
    TopicSpec(WEBHOOK_TOKEN, "callback url", compacted=True, partitions=1),
)


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


def redrive_log_name(dlq_topic: str) -> str:
    """Which dead letters of `dlq_topic` were re-driven (`syncctl dlq redrive`)."""
    return f"{dlq_topic}.redriven"


def all_specs() -> list[TopicSpec]:
    """The catalog plus, per consumed stream, a long-retention dead-letter topic and the log
    of its re-drives."""
    specs = list(CATALOG)
    for spec in CATALOG:
        if spec.dead_letters:
            dlq = dlq_name(spec.name)
            specs.append(TopicSpec(dlq, spec.key, compacted=False, retention_days=365))
            specs.append(TopicSpec(redrive_log_name(dlq), "partition/offset", True, partitions=1))
    return specs


def dead_letter_specs() -> list[TopicSpec]:
    return [spec for spec in all_specs() if spec.name.endswith(".dlq")]


@dataclass(frozen=True)
class Topics:
    """Topic names under an optional namespace prefix."""

    namespace: str = ""

    def name(self, base: str) -> str:
        return f"{self.namespace}{base}"

    @property
    def sales(self) -> str:
        return self.name(SALES)

    @property
    def orders_synced(self) -> str:
        return self.name(ORDERS_SYNCED)

    @property
    def stock(self) -> str:
        return self.name(STOCK)

    @property
    def stock_pushed(self) -> str:
        return self.name(STOCK_PUSHED)

    @property
    def shopbox_products(self) -> str:
        return self.name(SHOPBOX_PRODUCTS)

    @property
    def rackbeat_products(self) -> str:
        return self.name(RACKBEAT_PRODUCTS)

    @property
    def bindings(self) -> str:
        return self.name(BINDINGS)

    @property
    def sales_cursor(self) -> str:
        """order-ingest's durable poll cursor (compacted, one key per poller)."""
        return self.name(SALES_CURSOR)

    @property
    def webhook_token(self) -> str:
        return self.name(WEBHOOK_TOKEN)

    def dead_letters(self) -> list[str]:
        return [self.name(spec.name) for spec in dead_letter_specs()]


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
