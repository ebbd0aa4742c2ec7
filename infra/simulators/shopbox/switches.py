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
)
