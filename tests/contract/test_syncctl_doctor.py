"""`syncctl doctor` against both simulators under each profile: every switch it can tell apart
from reads is detected as the simulator's variant, the set-up checks name what to create, and
the settings it chooses are the ones the services then read."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest

from infra.simulators.switches import PROFILES
from services.clients.factory import rackbeat_client
from services.clients.rackbeat_models import NewOrder, NewOrderLine
from services.clients.shopbox import ShopboxClient
from services.common.settings import RackbeatSettings
from services.syncctl.doctor import Context, chosen_settings, examine, healthy
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.shopbox_sim import ShopboxSim

REPO = Path(__file__).resolve().parents[2]
SEED = {
    "variations": [
        {"id": 900, "name": "Tøj", "types": [{"id": 901, "name": "Str", "options": []}]}
    ],
    "products": [
        {"number": "K-1", "name": "Kaffe", "group": 1, "sales_price": "80"},
        {"number": "T-1", "name": "T-shirt", "group": 1, "sales_price": "99", "variation_id": 900},
    ],
}


async def live_accounts(shopbox: ShopboxSim, rackbeat: RackbeatSim) -> None:
    """A shop with sales and an account with an order, as at go-live."""
    await rackbeat.seed(SEED)
    now = int(time.time())
    for sku, ago in (("BRD-0002", 120), ("BRD-0003", 60)):
        await shopbox.sale(1, [{"sku": sku}], creation_time=now - ago)
    async with rackbeat.client() as client:
        await client.create_order(
            NewOrder(
                customer_id=1,
                heading="Shopbox sale [shopbox-basket-77]",
                lines=[NewOrderLine(item_id="K-1", quantity=1, location_id=1)],
            ),
            book=True,
        )


PAIRS = [(p, p) for p in PROFILES]


@pytest.mark.parametrize(
    ("shopbox_sim", "rackbeat_sim"), PAIRS, indirect=True, ids=[p for p, _ in PAIRS]
)
async def test_doctor_detects_each_profiles_variant_and_the_set_up(
    shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    await live_accounts(shopbox_sim, rackbeat_sim)
    shopbox_client = ShopboxClient(shopbox_sim.api_url, shopbox_sim.token)
    async with shopbox_client as shopbox, rackbeat_sim.client() as rackbeat:
        ctx = Context(shopbox, rackbeat, {"1": 1, "2": 2, "9": 7}, group=1, customer=1)
        findings = await examine(ctx)

    switches = {**shopbox_sim.state.switches, **rackbeat_sim.state.switches}
    detected = {f.switch: f.detected for f in findings if f.switch and f.detected}
    assert len(detected) >= 12, detected
    assert "variation_matrix_shape" in detected
    for switch, variant in detected.items():
        assert variant == switches[switch], (switch, variant, switches[switch])

    problems = {f.assumption: f for f in findings if f.relied_on and f.verdict != "CONFIRMED"}
    assert set(problems) == {
        "location 7 for Shopbox branch 9",
        "Shopbox branch 9 of SYNC_BRANCH_LOCATIONS",
    }
    assert "create location 7 in Rackbeat" in problems["location 7 for Shopbox branch 9"].handling
    assert not healthy(findings)

    chosen = chosen_settings(findings)
    refused = switches["order_search"] == "not_filterable"
    assert json.loads(chosen["RACKBEAT_ORDER_LOOKUP"]) == (
        ["window", "scan"] if refused else ["window", "search", "scan"]
    )
    lists_refused = switches["item_list_filters"] == "refused"
    assert ("RACKBEAT_REFUSED_FILTERS" in chosen) is lists_refused


@pytest.mark.rackbeat_switches(variation_matrix_shape="html")
async def test_an_unreadable_variation_matrix_fails_the_doctor(
    shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    await live_accounts(shopbox_sim, rackbeat_sim)
    shopbox_client = ShopboxClient(shopbox_sim.api_url, shopbox_sim.token)
    async with shopbox_client as shopbox, rackbeat_sim.client() as rackbeat:
        ctx = Context(shopbox, rackbeat, {"1": 1, "2": 2}, group=1, customer=1)
        findings = await examine(ctx)
    (matrix,) = [f for f in findings if f.switch == "variation_matrix_shape"]
    assert (matrix.detected, matrix.verdict) == ("html", "DIFFERENT")
    assert "send a sample" in matrix.handling
    assert not healthy(findings)


@pytest.mark.parametrize(
    ("shopbox_sim", "rackbeat_sim"), PAIRS, indirect=True, ids=[p for p, _ in PAIRS]
)
async def test_the_write_probe_detects_what_only_a_write_shows_and_touches_only_its_item(
    shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    await live_accounts(shopbox_sim, rackbeat_sim)
    store = rackbeat_sim.state.store
    before = {n: (p.name, p.updated_at) for n, p in store.products.items()}
    shopbox_client = ShopboxClient(shopbox_sim.api_url, shopbox_sim.token)
    async with shopbox_client as shopbox, rackbeat_sim.client() as rackbeat:
        ctx = Context(shopbox, rackbeat, {"1": 1, "2": 2}, group=1, customer=1)
        findings = await examine(ctx, write_probe=True)

    switches = rackbeat_sim.state.switches
    probed = {f.switch: f.detected for f in findings if f.api == "Rackbeat (probe)" and f.switch}
    assert set(probed) == {
        "order_create_books",
        "order_their_reference",
        "order_cancel",
        "stock_bumps_updated_at",
    }
    for switch, variant in probed.items():
        assert variant == switches[switch], (switch, variant)
    assert not [f for f in findings if f.switch in probed and f.api != "Rackbeat (probe)"]
    assert {n: (p.name, p.updated_at) for n, p in store.products.items() if n in before} == before
    new = [o for o in store.orders.values() if "doctor probe" in (o.heading or "")]
    assert len(new) == 1 and {line.item_number for line in new[0].lines} == {"SYNC-DOCTOR-PROBE"}
    assert healthy(findings)


async def test_doctor_cli_writes_settings_the_services_read_and_exits_0_when_set_up(
    shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim, tmp_path: Path
) -> None:
    await live_accounts(shopbox_sim, rackbeat_sim)
    rackbeat_sim.state.switches["item_list_filters"] = "refused"
    env = {
        **os.environ,
        "SHOPBOX_BASE_URL": shopbox_sim.api_url,
        "SHOPBOX_API_TOKEN": shopbox_sim.token,
        "RACKBEAT_BASE_URL": rackbeat_sim.api_url,
        "RACKBEAT_API_TOKEN": rackbeat_sim.token,
        "SYNC_BRANCH_LOCATIONS": '{"1": 1, "2": 2}',
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.syncctl",
        "doctor",
        "--json",
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    stdout = out.decode()
    assert process.returncode == 0, stdout + err.decode()
    body = json.loads(stdout)
    assert body["healthy"] is True
    assert shopbox_sim.token not in stdout and rackbeat_sim.token not in stdout

    written = (tmp_path / "doctor.env").read_text()
    assert "RACKBEAT_REFUSED_FILTERS=" in written
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        settings = RackbeatSettings()
    finally:
        os.chdir(cwd)
    assert settings.refused_filters == ["products?updated_at_from", "items?updated_at_from"]
    assert rackbeat_client(settings).refused_filters == set(settings.refused_filters)
