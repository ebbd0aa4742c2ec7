"""`syncctl doctor`: checks the live accounts against what the sync assumes, before go-live.

Only reads (GETs) are made, unless `--write-probe` asks for a labelled test item, one order and
one stock adjustment on it in Rackbeat. Each check names an assumption (docs/api-assumptions.md),
what it observed, a verdict and what the sync does about it. Where the API answers one of the
variants the simulators model as a switch, the finding carries that switch's variant name, so a
test can run doctor against each simulator profile and compare. Settings doctor can choose (a
lookup or list filter the API refuses) go to `doctor.env`, read by the services before `.env`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from services.clients.factory import rackbeat_client, shopbox_client
from services.clients.http import ApiError, NotFound, ValidationFailed
from services.clients.rackbeat import RackbeatClient, item_path
from services.clients.rackbeat_models import (
    NewInventoryAdjustment,
    NewOrder,
    NewOrderLine,
    NewProduct,
)
from services.clients.shopbox import BASKET_TIME_KEYS, ShopboxClient, unix_seconds
from services.common.settings import (
    DOCTOR_ENV_FILE,
    ItemMapperSettings,
    OrderWriterSettings,
    SyncSettings,
)

Verdict = Literal["CONFIRMED", "DIFFERENT", "COULD NOT CHECK"]
_RB_TIME = "%Y-%m-%d %H:%M:%S"
ORDER_WINDOW = "GET /orders?created_at_from= (the duplicate-order guard's window)"


@dataclass(frozen=True)
class Finding:
    api: str
    assumption: str
    observed: str
    verdict: Verdict
    handling: str
    """What the sync does about it, or what to create where."""
    switch: str | None = None
    """The simulator switch this is, and `detected` its variant (None: not told apart)."""
    detected: str | None = None
    relied_on: bool = False
    """The configuration needs this confirmed: doctor exits non-zero when it is not."""


@dataclass(frozen=True)
class Context:
    shopbox: ShopboxClient
    rackbeat: RackbeatClient
    branch_locations: Mapping[str, int]
    group: int
    customer: int


Check = Callable[[Context], Awaitable[list[Finding]]]


def _set_up(assumption: str, problem: str | None, fix: str, ok: str) -> Finding:
    if problem is None:
        return Finding("set-up", assumption, ok, "CONFIRMED", "nothing to do", relied_on=True)
    return Finding("set-up", assumption, problem, "DIFFERENT", fix, relied_on=True)


def _unreadable(api: str, assumption: str, exc: ApiError, switch: str | None = None) -> Finding:
    return Finding(api, assumption, f"could not read: {exc}", "COULD NOT CHECK", "-", switch)


def _either(
    api: str,
    assumption: str,
    as_assumed: bool,
    switch: str,
    variants: tuple[str, str],
    handling: str | tuple[str, str],
    seen: tuple[str, str] | None = None,
) -> Finding:
    """A yes/no assumption: the switch's variant for yes and for no, what to print as observed
    (the variant itself unless `seen`) and the handling (one, or one for each outcome)."""
    pick = 0 if as_assumed else 1
    return Finding(
        api,
        assumption,
        (seen or variants)[pick],
        "CONFIRMED" if as_assumed else "DIFFERENT",
        handling if isinstance(handling, str) else handling[pick],
        switch,
        variants[pick],
    )


# ------------------------------------------------------------------------ the merchant's set-up


async def rackbeat_set_up(ctx: Context) -> list[Finding]:
    rb = ctx.rackbeat
    try:
        account = await rb.account()
    except ApiError as exc:
        return [_set_up("Rackbeat token", str(exc), "set RACKBEAT_API_TOKEN in .env", "")]
    found = [_set_up("Rackbeat token", None, "", f"account {account.id}")]
    groups = (await rb.read("product-groups", {"limit": 1000})).get("product_groups", [])
    numbers = {int(g.get("number", -1)) for g in groups if isinstance(g, dict)}
    found.append(
        _set_up(
            f"product group {ctx.group} (new products go there)",
            None if ctx.group in numbers else f"no group {ctx.group} (have {sorted(numbers)})",
            f"create a product group in Rackbeat (Settings > Product groups) or set "
            f"ITEM_MAPPER_RACKBEAT_GROUP to one of {sorted(numbers)}",
            f"group {ctx.group} exists",
        )
    )
    locations = {loc.number for loc in await rb.list_locations()}
    for branch, location in sorted(ctx.branch_locations.items()):
        found.append(
            _set_up(
                f"location {location} for Shopbox branch {branch}",
                None if location in locations else f"no location {location}",
                f"create location {location} in Rackbeat (Settings > Locations) or change "
                "SYNC_BRANCH_LOCATIONS",
                f"location {location} exists",
            )
        )
    try:
        customer = await rb.get_customer(ctx.customer)
        problem = None
    except NotFound:
        problem, customer = f"no customer {ctx.customer}", None
    found.append(
        _set_up(
            f"customer {ctx.customer} for till sales",
            problem,
            "create a customer such as 'Kontantkunde' in Rackbeat and set "
            "ORDER_WRITER_CASH_CUSTOMER_NUMBER to its number",
            f"customer {ctx.customer} ({customer.company_name if customer else ''})",
        )
    )
    return found


async def shopbox_set_up(ctx: Context) -> list[Finding]:
    try:
        branches = await ctx.shopbox.branches()
    except ApiError as exc:
        return [_set_up("Shopbox token", str(exc), "set SHOPBOX_API_TOKEN in .env", "")]
    found = [_set_up("Shopbox token", None, "", f"{len(branches)} branches")]
    for branch in branches:
        registers = ", ".join(r.uid for r in branch.cash_registers) or "(not listed)"
        mapped = ctx.branch_locations.get(branch.uid)
        found.append(
            _set_up(
                f"Shopbox branch {branch.uid} ({branch.name}) -> registers -> location",
                None if mapped is not None else "not in SYNC_BRANCH_LOCATIONS",
                f'add "{branch.uid}": <Rackbeat location> to SYNC_BRANCH_LOCATIONS, or its '
                "sales and stock are not synced",
                f"registers {registers} -> location {mapped}",
            )
        )
    known = {b.uid for b in branches}
    for unknown in sorted(set(ctx.branch_locations) - known):
        found.append(
            _set_up(
                f"Shopbox branch {unknown} of SYNC_BRANCH_LOCATIONS",
                "no such branch in Shopbox",
                "remove it from SYNC_BRANCH_LOCATIONS or use the branch uid Shopbox shows",
                "",
            )
        )
    return found


# ------------------------------------------------------------------------ Shopbox's shapes


def _time_key(row: Mapping[str, Any]) -> tuple[str, Any] | None:
    key = next((key for key in BASKET_TIME_KEYS if key in row), None)
    return None if key is None else (key, row[key])


async def shopbox_baskets(ctx: Context) -> list[Finding]:
    api = "Shopbox"
    try:
        rows = (await ctx.shopbox.read("baskets", {"per-page": 10})).get("data", [])
    except ApiError as exc:
        return [_unreadable(api, "GET /baskets", exc)]
    if not rows:
        return [
            Finding(
                api,
                "GET /baskets shapes (time key, branch, lines, order, since)",
                "no baskets yet",
                "COULD NOT CHECK",
                "ring up a test sale in Shopbox and run doctor again",
            )
        ]
    first = rows[0]
    time_key = _time_key(first)
    found = [_basket_time(time_key)]
    found.append(
        _either(
            api,
            "a basket names its branch",
            "branch" in first,
            "basket_branch",
            ("included", "absent"),
            ("read from the basket", "read from the register (GET /branches)"),
            seen=("branch present", "only cash_register"),
        )
    )
    found.append(
        _either(
            api,
            "list rows carry the basket's lines",
            any(key in first for key in ("basket_items", "sales")),
            "basket_list_lines",
            ("included", "detail_only"),
            ("read from the row", "read from GET /baskets/{uid}"),
            seen=("lines on list rows", "no lines key on list rows"),
        )
    )
    times = [t for row in rows if (k := _time_key(row)) and (t := unix_seconds(k[1])) is not None]
    found.append(_basket_order(times))
    if times:
        found.append(await _basket_since(ctx.shopbox, max(times)))
    return found


def _basket_time(key: tuple[str, Any] | None) -> Finding:
    if key is None:
        return Finding(
            "Shopbox",
            "a basket's creation time key",
            f"none of {', '.join(BASKET_TIME_KEYS)}",
            "DIFFERENT",
            "baskets cannot be read: send this to support with `HTTP_LOG_FIRST_RESPONSES=true`",
            "basket_time_key",
            None,
            relied_on=True,
        )
    name, value = key
    iso = isinstance(value, str) and not value.isdigit()
    return Finding(
        "Shopbox",
        "a basket's creation time key",
        f"{name} ({'ISO 8601' if iso else 'unix seconds'})",
        "CONFIRMED" if name == "creation_time" and not iso else "DIFFERENT",
        "read under any of the four keys, unix seconds or ISO 8601",
        "basket_time_key",
        "creation_time" if name == "creation_time" else "created_at_iso" if iso else name,
    )


def _basket_order(times: list[int]) -> Finding:
    switch = "basket_list_order"
    if len(set(times)) < 2:
        return Finding(
            "Shopbox",
            "GET /baskets lists newest first",
            f"{len(times)} distinct times",
            "COULD NOT CHECK",
            "the order is read off the first page at run time",
            switch,
        )
    newest_first = times == sorted(times, reverse=True)
    return Finding(
        "Shopbox",
        "GET /baskets lists newest first",
        "newest first" if newest_first else "oldest first",
        "CONFIRMED" if newest_first else "DIFFERENT",
        "the order is read off the first page at run time; oldest first walks back from the end",
        switch,
        "newest_first" if newest_first else "oldest_first",
    )


async def _basket_since(shopbox: ShopboxClient, newest: int) -> Finding:
    later = (await shopbox.read("baskets", {"since": newest + 1, "per-page": 10}))["data"]
    return _either(
        "Shopbox",
        "GET /baskets?since= filters",
        not later,
        "basket_since",
        ("honoured", "ignored"),
        "also filtered here; the walk stops at the first older basket",
        seen=("filters", f"ignored ({len(later)} older baskets returned)"),
    )


async def shopbox_products(ctx: Context) -> list[Finding]:
    api = "Shopbox"
    try:
        rows = (await ctx.shopbox.read("products", {"per-page": 50})).get("data", [])
    except ApiError as exc:
        return [_unreadable(api, "GET /products", exc)]
    if not rows:
        return [Finding(api, "GET /products shapes", "no products", "COULD NOT CHECK", "-")]
    found = []
    stamp = rows[0].get("updated_at")
    form = (
        "iso"
        if isinstance(stamp, str)
        else "float"
        if isinstance(stamp, float)
        else "unix"
        if isinstance(stamp, int)
        else None
    )
    found.append(
        Finding(
            api,
            "products' updated_at is unix seconds",
            f"{type(stamp).__name__}: {stamp!r}" if stamp is not None else "no updated_at",
            "CONFIRMED" if form == "unix" else "DIFFERENT" if form else "COULD NOT CHECK",
            "unix seconds, a float or ISO 8601 are all read",
            "updated_at_format",
            form,
        )
    )
    sku = next((row["sku_code"] for row in rows if row.get("sku_code")), None)
    if sku is not None:
        hits = (await ctx.shopbox.read("products", {"sku_code": sku, "per-page": 50}))["data"]
        found.append(
            _either(
                api,
                "GET /products?sku_code= filters",
                all(row.get("sku_code") == sku for row in hits),
                "product_filters",
                ("honoured", "ignored"),
                "matched here as well; without the filter find-by-SKU reads every page",
                seen=("filters", f"ignored ({len(hits)} rows for one SKU)"),
            )
        )
    return found


# ------------------------------------------------------------------------ Rackbeat's shapes


def _since_yesterday() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime(_RB_TIME)


async def _refuses(rb: RackbeatClient, path: str, params: Mapping[str, Any]) -> str | None:
    """The 422's reason when the API refuses these list filters, else None."""
    try:
        await rb.read(path, {**params, "limit": 1})
    except ValidationFailed as exc:
        return exc.reason
    return None


async def rackbeat_order_lookup(ctx: Context) -> list[Finding]:
    rb, api = ctx.rackbeat, "Rackbeat"
    window = await _refuses(rb, "orders", {"created_at_from": _since_yesterday()})
    found = [
        Finding(
            api,
            ORDER_WINDOW,
            "accepted" if window is None else f"refused: {window}",
            "CONFIRMED" if window is None else "DIFFERENT",
            "the guard looks in that window" if window is None else "ORDER_LOOKUP without window",
        )
    ]
    search = await _refuses(rb, "orders", {"search": "doctor-probe"})
    detected = "not_filterable" if search else await _search_kind(rb)
    observed = f"refused: {search}" if search else f"accepted, matches {detected or '?'}"
    verdict: Verdict = "CONFIRMED" if detected == "number_or_customer" else "DIFFERENT"
    found.append(
        Finding(
            api,
            "GET /orders?search= matches number or customer (the guard's second choice)",
            observed if detected else "accepted; no order to tell what it matches",
            verdict if detected else "COULD NOT CHECK",
            "not needed while the window works" if window is None else "used instead of window",
            "order_search",
            detected,
        )
    )
    return found


async def _search_kind(rb: RackbeatClient) -> str | None:
    """What `search` matches, told apart on an existing order's heading (None: no order)."""
    orders = (await rb.read("orders", {"limit": 1})).get("orders", [])
    heading = orders[0].get("heading") if orders else None
    if not heading:
        return None
    unmatched = (await rb.read("orders", {"search": "zz-doctor-no-match", "limit": 1}))["orders"]
    if unmatched:
        return "ignored"
    hits = (await rb.read("orders", {"search": heading, "limit": 5}))["orders"]
    return "any_text" if hits else "number_or_customer"


async def rackbeat_item_lists(ctx: Context) -> list[Finding]:
    rb, api = ctx.rackbeat, "Rackbeat"
    refused = await _refuses(rb, "products", {"updated_at_from": _since_yesterday()})
    found = [
        _either(
            api,
            "GET /products?updated_at_from= filters",
            refused is None,
            "item_list_filters",
            ("updated_at_from", "refused"),
            (
                "changed-since polls filter there",
                "REFUSED_FILTERS: lists walked unfiltered, filtered here",
            ),
            seen=("accepted", f"refused: {refused}"),
        )
    ]
    items = (await rb.read("items", {"limit": 1})).get("items", [])
    if not items:
        found.append(Finding(api, "stock rows per location", "no items", "COULD NOT CHECK", "-"))
        return found
    body = await rb.read(f"items/{item_path(items[0]['number'])}/locations")
    key = next((k for k in ("locations", "product_locations") if k in body), None)
    rows = body.get(key, []) if key else []
    nested = bool(rows) and isinstance(rows[0].get("location"), dict)
    detected = (
        None
        if key is None or not rows
        else "nested"
        if nested
        else "flat"
        if key == "locations"
        else "flat_product_locations"
    )
    found.append(
        Finding(
            api,
            "GET /items/{n}/locations rows are flat, under `locations`",
            f"{'nested' if nested else 'flat'} rows under {key}" if rows else "no rows",
            "CONFIRMED" if detected == "flat" else "DIFFERENT" if detected else "COULD NOT CHECK",
            "flat or nested rows under either key are read",
            "item_location_rows",
            detected,
        )
    )
    return found


async def rackbeat_variations(ctx: Context) -> list[Finding]:
    rows = (await ctx.rackbeat.read("variations", {"limit": 1})).get("variations", [])
    if not rows:
        return [
            Finding(
                "Rackbeat",
                "variation types are sub-resources",
                "no variations",
                "COULD NOT CHECK",
                "both shapes are read",
                "variation_resources",
            )
        ]
    return [
        _either(
            "Rackbeat",
            "variation types are sub-resources",
            "types" not in rows[0],
            "variation_resources",
            ("sub_resources", "nested"),
            "both shapes are read; types and options are created through the sub-resources",
            seen=("only {id, name}", "types nested in the record"),
        )
    ]


async def rackbeat_variation_matrix(ctx: Context) -> list[Finding]:
    what, switch = "GET /products/{n}/variation-matrix answers JSON rows", "variation_matrix_shape"
    products = (await ctx.rackbeat.read("products", {"limit": 200})).get("products", [])
    number = next((p["number"] for p in products if p.get("variation_id")), None)
    if number is None:
        return [Finding("Rackbeat", what, "no product with a variation", "COULD NOT CHECK", "-")]
    try:
        body = await ctx.rackbeat.read(f"products/{item_path(number)}/variation-matrix")
    except ApiError as exc:
        shape, seen = ("html", "not JSON") if "not JSON" in exc.reason else (None, str(exc))
    else:
        wrapped = isinstance(body, dict) and "variation_matrix" in body
        shape = "rows" if isinstance(body, list) else "wrapped" if wrapped else None
        seen = {"rows": "a bare array of rows", "wrapped": "variation_matrix.variants"}.get(
            shape or "", f"a {type(body).__name__} of another shape"
        )
    readable = shape in ("rows", "wrapped")
    return [
        Finding(
            "Rackbeat",
            what,
            f"{seen} (product {number})",
            "CONFIRMED" if shape == "wrapped" else "DIFFERENT" if shape else "COULD NOT CHECK",
            "read as it comes"
            if readable
            else "variant stock cannot be read: send a sample (LOG_API_SAMPLES=true) to support",
            switch,
            shape,
            relied_on=not readable,
        )
    ]


PROBE = "Rackbeat (probe)"
PROBE_ITEM = "SYNC-DOCTOR-PROBE"
PROBE_NAME = "syncctl doctor probe (safe to bar or delete)"


async def rackbeat_write_probe(ctx: Context) -> list[Finding]:
    """With `--write-probe`: a labelled test item, one order on it (then cancelled where the
    API can) and one stock adjustment on it, to see what only a write shows. Nothing else is
    touched; the item stays (Rackbeat refuses to delete an item that had stock)."""
    rb = ctx.rackbeat
    location = min(ctx.branch_locations.values(), default=1)
    item = await rb.find_product(PROBE_ITEM) or await rb.create_product(
        NewProduct(number=PROBE_ITEM, name=PROBE_NAME, group=ctx.group, sales_price=Decimal(0)),
        suppress_webhooks=True,
    )
    reference = f"doctor-probe-{int(time.time())}"
    order = await rb.create_order(
        NewOrder(
            customer_id=ctx.customer,
            heading=f"{PROBE_NAME} [{reference}]",
            their_reference=reference,
            lines=[NewOrderLine(item_id=PROBE_ITEM, quantity=Decimal(1), location_id=location)],
        ),
        book=True,
        suppress_webhooks=True,
    )
    stored = (await rb.get_order(order.number)).their_reference == reference
    found = [
        _either(
            PROBE,
            "POST /orders books the order",
            order.is_booked,
            "order_create_books",
            ("booked", "unbooked"),
            "booked with POST /orders/{n}/book when it is not",
        ),
        _either(
            PROBE,
            "their_reference is stored",
            stored,
            "order_their_reference",
            ("stored", "dropped"),
            "the reference is in the heading too; the lookup matches either",
        ),
    ]
    try:
        await rb.cancel_order(order.number, suppress_webhooks=True)
        cancel = True
    except NotFound:
        cancel = False
    found.append(
        _either(
            PROBE,
            f"POST /orders/{{n}}/cancel exists (probe order {order.number})",
            cancel,
            "order_cancel",
            ("endpoint", "absent"),
            "a cancelled sale is dead-lettered to void by hand",
        )
    )
    found.append(await _stock_bump(rb, item.updated_at, location))
    return found


async def _stock_bump(rb: RackbeatClient, before: datetime | None, location: int) -> Finding:
    await asyncio.sleep(1.1)  # updated_at has whole seconds
    levels = {row.location.number: row.stock_quantity for row in await rb.item_stock(PROBE_ITEM)}
    level = levels.get(location, Decimal(0)) + 1
    await rb.create_inventory_adjustment(
        NewInventoryAdjustment(
            item_number=PROBE_ITEM,
            location_number=location,
            quantity=level,
            reason="syncctl doctor probe",
        ),
        suppress_webhooks=True,
    )
    after = (await rb.get_product(PROBE_ITEM)).updated_at
    return _either(
        PROBE,
        "a stock move bumps the item's updated_at",
        after != before,
        "stock_bumps_updated_at",
        ("yes", "no"),
        (
            "the changed-since poll sees moves",
            "only the webhook and the full sweep see moves: keep the webhook on",
        ),
    )


NOT_CHECKED = [
    ("Rackbeat", "webhook body and event header", "webhook_body", "all three bodies are read"),
    ("Shopbox", "push body (basket event or updateInventory)", "push_body", "both wake the poll"),
    ("Rackbeat", "POST /orders books the order", "order_create_books", "booked when it is not"),
    ("Rackbeat", "their_reference is stored", "order_their_reference", "the heading carries it"),
    ("Rackbeat", "POST /orders/{n}/cancel exists", "order_cancel", "else a dead letter to void"),
    ("Rackbeat", "inventory adjustments' keys and booking", "adjustment_body", "both key styles"),
    ("Rackbeat", "a stock move bumps updated_at", "stock_bumps_updated_at", "the sweep covers"),
    ("Shopbox", "stock write answer", "inventory_write_answer", "any 2xx is success"),
    ("Shopbox", "a partial variants list removes variants", "variant_update", "all are sent"),
    ("both", "rate limit window and Retry-After", "rate_limit_window", "smoothed, backs off"),
]


def not_checked() -> list[Finding]:
    """What only a write or an inbound delivery shows: the sync copes with every variant."""
    return [
        Finding(api, what, "needs a write or an inbound call", "COULD NOT CHECK", copes, switch)
        for api, what, switch, copes in NOT_CHECKED
    ]


CHECKS: list[Check] = [
    rackbeat_set_up,
    shopbox_set_up,
    shopbox_baskets,
    shopbox_products,
    rackbeat_order_lookup,
    rackbeat_item_lists,
    rackbeat_variations,
    rackbeat_variation_matrix,
]


async def examine(ctx: Context, *, write_probe: bool = False) -> list[Finding]:
    """Every check's findings; a check that fails outright is one COULD NOT CHECK row."""
    found: list[Finding] = []
    for check in [*CHECKS, *([rackbeat_write_probe] if write_probe else [])]:
        try:
            found += await check(ctx)
        except ApiError as exc:
            found.append(_unreadable("-", check.__name__.replace("_", " "), exc))
    probed = {f.switch for f in found if f.switch and f.detected}
    return found + [f for f in not_checked() if f.switch not in probed]


def chosen_settings(findings: list[Finding]) -> dict[str, str]:
    """The settings the findings decide (the services read them from doctor.env)."""
    detected = {f.switch: f.detected for f in findings if f.switch}
    refused = {
        "window": any(f.assumption == ORDER_WINDOW and f.verdict == "DIFFERENT" for f in findings),
        "search": detected.get("order_search") == "not_filterable",
    }
    lookup = [way for way in ("window", "search", "scan") if not refused.get(way)]
    chosen = {"RACKBEAT_ORDER_LOOKUP": json.dumps(lookup)}
    if detected.get("item_list_filters") == "refused":
        chosen["RACKBEAT_REFUSED_FILTERS"] = json.dumps(
            ["products?updated_at_from", "items?updated_at_from"]
        )
    return chosen


def healthy(findings: list[Finding]) -> bool:
    return all(f.verdict == "CONFIRMED" for f in findings if f.relied_on)


# ------------------------------------------------------------------------ the command


async def _run(write_probe: bool) -> list[Finding]:
    sync = SyncSettings()
    async with shopbox_client() as shopbox, rackbeat_client() as rackbeat:
        ctx = Context(
            shopbox=shopbox,
            rackbeat=rackbeat,
            branch_locations=sync.branch_locations,
            group=ItemMapperSettings().rackbeat_group,
            customer=OrderWriterSettings().cash_customer_number,
        )
        return await examine(ctx, write_probe=write_probe)


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable findings")] = False,
    settings_file: Annotated[
        Path, typer.Option(help="where the chosen settings are written (read by the services)")
    ] = Path(DOCTOR_ENV_FILE),
    write_probe: Annotated[
        bool,
        typer.Option(
            "--write-probe",
            help=f"also write to Rackbeat: a test item {PROBE_ITEM}, one order on it (cancelled "
            "where possible) and one stock adjustment, to check what only a write shows",
        ),
    ] = False,
) -> None:
    """Check the live Shopbox and Rackbeat accounts against what the sync assumes (reads only,
    unless --write-probe).

    Prints each assumption, what was observed, CONFIRMED / DIFFERENT / COULD NOT CHECK and what
    the sync does; writes the settings it chose to doctor.env. Exits 1 when the set-up the
    configuration relies on is not confirmed."""
    started = time.monotonic()
    findings = asyncio.run(_run(write_probe))
    chosen = chosen_settings(findings)
    lines = [f"# Written by syncctl doctor at {datetime.now(UTC).isoformat(timespec='seconds')}"]
    settings_file.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in chosen.items())]) + "\n")
    if as_json:
        body = {"findings": [asdict(f) for f in findings], "settings": chosen}
        typer.echo(json.dumps(body | {"healthy": healthy(findings)}, indent=1))
    else:
        _print(findings, chosen, settings_file, time.monotonic() - started)
    raise typer.Exit(0 if healthy(findings) else 1)


def _print(findings: list[Finding], chosen: dict[str, str], path: Path, took: float) -> None:
    console = Console()
    table = Table(title=f"syncctl doctor ({took:.1f} s)")
    for column in ("API", "Assumption", "Observed", "Verdict", "What the sync does / to do"):
        table.add_column(column, overflow="fold")
    colour = {"CONFIRMED": "green", "DIFFERENT": "yellow", "COULD NOT CHECK": "dim"}
    for f in findings:
        verdict = f"[{colour[f.verdict]}]{f.verdict}[/]"
        if f.relied_on and f.verdict != "CONFIRMED":
            verdict = f"[red]{f.verdict}[/]"
        table.add_row(f.api, f.assumption, f.observed, verdict, f.handling)
    console.print(table)
    settings = ", ".join(f"{k}={v}" for k, v in chosen.items())
    console.print(f"settings written to {path}: {settings}")
