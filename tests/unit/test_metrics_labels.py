"""Upstream labels stay low-cardinality: ids never reach a label."""

from __future__ import annotations

import pytest

from services.common.metrics import endpoint_template, status_class


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("orders/1042/book", "/orders/{id}/book"),
        ("/items/BRD-0009/locations", "/items/{id}/locations"),
        ("products/shirt%2Fred/variation-matrix?x=1", "/products/{id}/variation-matrix"),
        ("product-inventories", "/product-inventories"),
        ("self", "/self"),
        ("baskets/77", "/baskets/{id}"),
    ],
)
def test_every_second_segment_is_an_id(path: str, template: str) -> None:
    assert endpoint_template(path) == template


def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 204, 404, 429, 503, None)] == [
        "2xx",
        "2xx",
        "4xx",
        "4xx",
        "5xx",
        "error",
    ]
