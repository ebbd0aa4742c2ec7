"""Chaos benchmark: the scenario of tests/e2e/test_chaos.py at full length. 90 s of mixed load
(sales of simple and variant items at 4/s, some refunded, some cancelled; Rackbeat stock changes
at 2/s) while a random service is SIGKILLed every 6-10 s and restarted, and the broker is
SIGKILLed once (40 s in) and started again. The broker is a private one (own port and data dir),
never the shared broker; the simulators run in this process.

Figures: sales, orders, lost, doubled, wrong lines or state, stock spots wrong at the end, seconds
from "every service ready again" until every order is there and until stock is equal everywhere,
and the kills.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

import httpx

from infra.simulators.common import free_port, serve_in_loop
from infra.simulators.rackbeat import RackbeatConfig
from infra.simulators.rackbeat import create_app as rackbeat_app
from infra.simulators.shopbox import ShopboxConfig
from infra.simulators.shopbox import create_app as shopbox_app
from tests.e2e.chaos import Plan, run
from tests.fixtures.private_broker import PrivateBroker
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import Services
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop

PLAN = Plan(load_s=90, broker_kill_at_s=40, broker_down_s=1)


async def main() -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    broker = PrivateBroker(port=free_port(), home=home / "kafka")
    services = Services(broker.bootstrap, home)
    sb_token, rb_token = f"sb-{secrets.token_hex(6)}", f"rb-{secrets.token_hex(6)}"
    sb, sb_state = shopbox_app(ShopboxConfig(tokens=(sb_token,), seed=demo_shop()))
    rb, rb_state = rackbeat_app(RackbeatConfig(tokens=[rb_token], webhook_base_backoff_s=0.05))
    async with (
        serve_in_loop(sb) as sb_url,
        serve_in_loop(rb) as rb_url,
        httpx.AsyncClient(base_url=sb_url) as sb_ctl,
        httpx.AsyncClient(base_url=f"{rb_url}/_control/") as rb_ctl,
    ):
        shopbox = ShopboxSim(sb_url, f"{sb_url}/api/v3", sb_token, sb_state, sb_ctl)
        rackbeat = RackbeatSim(rb_url, rb_token, rb_state, rb_ctl)
        try:
            outcome = await run(shopbox, rackbeat, broker, services, PLAN)
        finally:
            services.stop_all()
            await asyncio.to_thread(broker.down)
    for problem in [*outcome.lost, *outcome.doubled, *outcome.wrong, *outcome.stock_wrong][:20]:
        print(f"   problem: {problem}")
    return outcome.figures()


if __name__ == "__main__":
    print(asyncio.run(main()))
