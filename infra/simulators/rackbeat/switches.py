"""The Rackbeat simulator's switches (see infra/simulators/switches.py and the README)."""

from __future__ import annotations

from infra.simulators.switches import RATE_LIMIT_SWITCHES, Switch

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
    Switch(
        name="adjustment_body",
        choices=("gyt_keys", "swagger_keys", "legacy"),
        evidence="gyt_keys",
        strict="swagger_keys",
        legacy="legacy",
        source=(
            "an integrator's production code sends {item_id, adjustment_type, quantity (the new "
            "level), location, regulated_at, reason} and reads inventory_regulation; the old "
            "swagger requires item_type, item_number, location_number, regulated_at, reason; a "
            "zero change is refused (the integrator's comment); no source has a relative flag"
        ),
    ),
    Switch(
        name="adjustment_booking",
        choices=("draft", "booked"),
        evidence="draft",
        strict="draft",
        legacy="booked",
        source="an integrator books every adjustment with POST /inventory-adjustments/{id}/book",
    ),
    Switch(
        name="item_location_rows",
        choices=("flat", "flat_product_locations", "nested"),
        evidence="flat",
        strict="flat_product_locations",
        legacy="nested",
        source=(
            "the only real per-location rows seen (an integrator's GET /products/{n}/locations) "
            "are flat {number, stock_quantity} under product_locations; the list key of "
            "/items/{n}/locations is unknown"
        ),
    ),
    Switch(
        name="record_keys",
        choices=("path", "data"),
        evidence="path",
        strict="path",
        legacy="path",
        source=(
            "wrapped singular and plural keys are confirmed (the PHP SDK, three integrators), "
            "but keys do not always follow the path (inventory_regulation from "
            "/inventory-adjustments); `data` (every record and list under `data`) is a named "
            "guess only tests pin, for the client's only-key fallback"
        ),
    ),
    Switch(
        name="variation_resources",
        choices=("sub_resources", "nested"),
        evidence="sub_resources",
        strict="sub_resources",
        legacy="nested",
        source=(
            "the old swagger: a Variation has no types, VariationForm is {name}, types and "
            "options are sub-resources (/variations/{id}/types[/{t}/options]); their list keys "
            "are unknown"
        ),
    ),
    Switch(
        name="variation_matrix_shape",
        choices=("wrapped", "rows", "html"),
        evidence="wrapped",
        strict="rows",
        legacy="wrapped",
        source=(
            "unknown: the endpoint and location_id are confirmed, the body is not (the old "
            "swagger declares a string, the Laravel wrapper returns the body as it comes, HTML "
            "with html=true); `wrapped` is {variation_matrix: {variants: [{options, "
            "quantities}]}}, `rows` a bare array of rows naming their options `variations` as "
            "order lines do, `html` a text/html table no profile uses"
        ),
    ),
    Switch(
        name="item_list_filters",
        choices=("updated_at_from", "refused"),
        evidence="updated_at_from",
        strict="refused",
        legacy="updated_at_from",
        source=(
            "unknown (the filtering docs show updated_at_from on /customer-invoices only; "
            "/orders answers 422 \"Property 'X' is not filterable\" for filters it lacks)"
        ),
    ),
    Switch(
        name="stock_bumps_updated_at",
        choices=("yes", "no"),
        evidence="yes",
        strict="no",
        legacy="yes",
        source="unknown (no source says whether a stock movement touches the item's updated_at)",
    ),
    *RATE_LIMIT_SWITCHES,
)
