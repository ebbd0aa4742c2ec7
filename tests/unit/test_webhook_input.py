"""The shared webhook body checks: nesting measured before parsing, text and identifiers."""

from __future__ import annotations

import pytest

from services.common.webhook_input import (
    MAX_IDENTIFIER_CHARS,
    Rejected,
    identifier,
    nesting_depth,
    parse_json,
)


def test_deep_nesting_is_a_400_not_a_recursion_error() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(Rejected) as caught:
        parse_json(raw)
    assert caught.value.status == 400 and "nests deeper" in caught.value.reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert nesting_depth(b'{"a": "[[[[\\"[[[", "b": [1, {"c": 2}]}') == 3


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"a": "\\ud800"}', 422),
        (b'{"\\u0000": 1}', 422),
        (b"\xff\xfe", 400),
        (b'{"a": ', 400),
    ],
)
def test_bad_text_and_bad_json_are_refused(raw: bytes, status: int) -> None:
    with pytest.raises(Rejected) as caught:
        parse_json(raw)
    assert caught.value.status == status


def test_identifiers_are_bounded_and_printable() -> None:
    assert identifier("BRD-0002", "item number") == "BRD-0002"
    for bad in ("X" * (MAX_IDENTIFIER_CHARS + 1), "a\nb", "a\udc00"):
        with pytest.raises(Rejected) as caught:
            identifier(bad, "item number")
        assert caught.value.status == 422
