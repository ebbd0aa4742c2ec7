"""The processes of a local run, in one place: `make run`, the e2e tests and the compose file's
service commands are all checked against this list, so they cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEMO_SEED = "infra/simulators/fixtures/demo_shop.json"

# What `make run` adds when it runs against the simulators (never with real APIs). Every API
# setting points at the simulators, whatever `.env` says, so the demo can never touch a real
# account. The demo shop's branches 1 and 2 map to Rackbeat locations 1 and 2, both simulators push
# webhooks to the services, and the simulated Rackbeat limit is raised so the demo's initial sync
# takes seconds instead of a minute (the real 480/min stays the default everywhere else). Those two
# limits are only defaults: the environment sets them (a benchmark lifts them, a rehearsal of the
# real limit lowers them).
# run_all adds a fresh KAFKA_TOPIC_NAMESPACE per run: the simulators keep their data in memory, so
# a new run must not meet the bindings, ledger and cursor of the last one.
DEMO_ENV: dict[str, str] = {
    "SHOPBOX_BASE_URL": "http://127.0.0.1:8101/api/v3",
    "SHOPBOX_API_TOKEN": "shopbox-dev-token",
    "SHOPBOX_WEBHOOK_SECRET": "shopbox-dev-hook-secret",
    "RACKBEAT_BASE_URL": "http://127.0.0.1:8102/api",
    "RACKBEAT_API_TOKEN": "rackbeat-sim-dev-token",
    "SYNC_BRANCH_LOCATIONS": '{"1": 1, "2": 2}',
    "RACKBEAT_REQUESTS_PER_MINUTE": os.environ.get("RACKBEAT_REQUESTS_PER_MINUTE", "6000"),
    "RACKBEAT_SIM_RATE_LIMIT": os.environ.get("RACKBEAT_SIM_RATE_LIMIT", "6000"),
    "SHOPBOX_SIM_WEBHOOK_URL": "http://127.0.0.1:8001/webhooks/shopbox",
    "STOCK_PUBLIC_URL": "http://127.0.0.1:8003",
}
DEMO_NAMESPACE_PREFIX = "demo-"


@dataclass(frozen=True)
class Process:
    name: str
    module: str
    port: int
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, python: str = "python") -> list[str]:
        """The command line; the compose file runs exactly this (test_compose_file.py)."""
        return [python, "-m", self.module, *self.args]


SERVICES: tuple[Process, ...] = (
    Process("order-ingest", "services.order_ingest", 8001),
    Process("order-writer", "services.order_writer", 8002),
    Process("stock-publisher", "services.stock_publisher", 8003),
    Process("item-mapper", "services.item_mapper", 8004),
    # Read-only ops page; the other services' URLs default to 127.0.0.1:8001-8004 (DASHBOARD_*).
    Process("dashboard", "services.dashboard", 8080),
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
