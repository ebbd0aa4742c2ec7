"""The Shopbox simulator's switches (see infra/simulators/switches.py and the README)."""

from __future__ import annotations

from infra.simulators.switches import RATE_LIMIT_SWITCHES, Switch

PREFIX = "SHOPBOX_SIM"

SWITCHES = (
    Switch(
        name="basket_branch",
        choices=("included", "absent"),
        evidence="included",
        strict="absent",
        legacy="included",
        source="unknown (the vendor plugin's basket create body has only cash_register)",
    ),
    Switch(
        name="basket_list_lines",
        choices=("included", "detail_only"),
        evidence="included",
        strict="detail_only",
        legacy="included",
        source="unknown (a sales-sync script suspects lines are only on GET /baskets/{uid})",
    ),
    Switch(
        name="basket_list_order",
        choices=("newest_first", "oldest_first"),
        evidence="newest_first",
        strict="oldest_first",
        legacy="newest_first",
        source="unknown (a sales-sync script assumes newest first)",
    ),
    Switch(
        name="basket_since",
        choices=("honoured", "ignored"),
        evidence="honoured",
        strict="ignored",
        legacy="honoured",
        source="unknown (invented: a sales-sync script tried seven names for it, none confirmed)",
    ),
    Switch(
        name="basket_time_key",
        choices=("creation_time", "created_at_iso", "crdate"),
        evidence="creation_time",
        strict="created_at_iso",
        legacy="creation_time",
        source="unknown (our client's guess; integrators guess crdate/tstamp/created, KDS orders "
        "use created_at)",
    ),
    Switch(
        name="inventory_write_answer",
        choices=("full", "minimal", "empty"),
        evidence="minimal",
        strict="empty",
        legacy="full",
        source="unknown (the vendor plugin ignores the answer to POST /product-inventories)",
    ),
    Switch(
        name="product_filters",
        choices=("honoured", "ignored"),
        evidence="honoured",
        strict="ignored",
        legacy="honoured",
        source="unknown (the sku_code and updated_since filters on GET /products are inventions)",
    ),
    Switch(
        name="push_body",
        choices=("basket_event", "update_inventory"),
        evidence="basket_event",
        strict="update_inventory",
        legacy="basket_event",
        source="unknown (the only push seen, the vendor plugin's, is action=updateInventory with "
        "an array of units sold; basket events are our guess)",
    ),
    Switch(
        name="updated_at_format",
        choices=("unix", "float", "iso"),
        evidence="unix",
        strict="iso",
        legacy="unix",
        source="unknown (no integrator reads updated_at on products or baskets)",
    ),
    Switch(
        name="variant_update",
        choices=("keep", "replace"),
        evidence="keep",
        strict="replace",
        legacy="keep",
        source="unknown (the vendor plugin always sends every variant of the product)",
    ),
    *RATE_LIMIT_SWITCHES,
)
