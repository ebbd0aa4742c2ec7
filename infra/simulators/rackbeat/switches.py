"""The Rackbeat simulator's switches (see infra/simulators/switches.py and the README)."""

from __future__ import annotations

from infra.simulators.switches import Switch

PREFIX = "RACKBEAT_SIM"

SWITCHES = (
    Switch(
        name="webhook_body",
        choices=("key_only", "item_type", "with_event"),
        evidence="key_only",
        strict="item_type",
        legacy="with_event",
        source=(
            "an integrator's production code: bodies are {key_name, key}, the event only in the "
            "Rackbeat-Webhook-Event header; its stock handler reads {item, item_type, type}"
        ),
    ),
    Switch(
        name="order_search",
        choices=("any_text", "number_or_customer", "not_filterable", "ignored"),
        evidence="number_or_customer",
        strict="not_filterable",
        legacy="any_text",
        source=(
            "the help centre: order search finds 'by order number or customer name'; an "
            "integrator saw /orders answer 422 \"Property 'X' is not filterable\" beyond "
            "number/created_at/updated_at"
        ),
    ),
    Switch(
        name="order_their_reference",
        choices=("stored", "dropped"),
        evidence="stored",
        strict="dropped",
        legacy="stored",
        source="unknown (documented on customers only; one integrator's line is commented out)",
    ),
    Switch(
        name="order_line_shape",
        choices=("swagger", "swagger_text_lines", "flat"),
        evidence="swagger",
        strict="swagger_text_lines",
        legacy="flat",
        source=(
            "the old swagger's LineVariation ({id, name} objects) and an integrator's reads of "
            "child_id/child_type/vat_percentage; text lines (no item) per the help centre"
        ),
    ),
    Switch(
        name="order_create_books",
        choices=("booked", "unbooked"),
        evidence="booked",
        strict="unbooked",
        legacy="booked",
        source=(
            "unknown, with a contrary hint: an integrator posts to /orders and then waits for "
            "is_booked before confirming"
        ),
    ),
    Switch(
        name="order_cancel",
        choices=("endpoint", "absent"),
        evidence="endpoint",
        strict="absent",
        legacy="endpoint",
        source="unknown (POST /orders/{n}/cancel is in no SDK or integration; only is_cancelled)",
    ),
)
