"""The processes of a local run, in one place: `make run`, the e2e tests and the compose file's
service commands are all checked against this list, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEMO_SEED = "infra/simulators/fixtures/demo_shop.json"


@dataclass(frozen=True)
class Process:
    name: str
    module: str
    port: int
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, python: str = "python") -> list[str]:
        return [python, "-m", self.module, *self.args]


SERVICES: tuple[Process, ...] = (
    Process("order-ingest", "services.order_ingest", 8001),
    Process("order-writer", "services.order_writer", 8002),
    Process("stock-publisher", "services.stock_publisher", 8003),
    Process("item-mapper", "services.item_mapper", 8004),
)

# Optional consumers: not started by `make run`, deployed on demand (compose profile `audit`).
# Run one locally with `python -m services.audit` next to `make run`.
OPTIONAL: tuple[Process, ...] = (Process("audit", "services.audit", 8005),)

SIMULATORS: tuple[Process, ...] = (
    Process(
        "shopbox-sim",
        "infra.simulators.shopbox",
        8101,
        ("--host", "127.0.0.1", "--port", "8101", "--seed", DEMO_SEED),
    ),
    Process(
        "rackbeat-sim",
        "infra.simulators.rackbeat",
        8102,
        ("--host", "127.0.0.1", "--port", "8102"),
    ),
)
