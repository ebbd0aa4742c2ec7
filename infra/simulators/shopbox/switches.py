"""The Shopbox simulator's switches (see infra/simulators/switches.py and the README)."""

from __future__ import annotations

from infra.simulators.switches import Switch

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
        name="product_filters",
        choices=("honoured", "ignored"),
        evidence="honoured",
        strict="ignored",
        legacy="honoured",
        source="unknown (the sku_code and updated_since filters on GET /products are inventions)",
    ),
)
