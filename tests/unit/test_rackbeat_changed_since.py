"""The client-side changed-since filter used when Rackbeat refuses `updated_at_from`
(docs/api-assumptions.md R2/R3): the rows the server filter would have kept, and rows that
carry no `updated_at` (better read than missed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.clients.rackbeat import _changed_since
from services.clients.rackbeat_models import Product

SINCE = datetime(2026, 12, 3, 12, 0, 0, 700_000, tzinfo=UTC)


def row(updated_at: datetime | None) -> Product:
    return Product(number="P1", name="Vare", updated_at=updated_at)


@pytest.mark.parametrize(
    ("updated_at", "kept"),
    [
        (None, True),
        (datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC), True),  # same second as the filter sends
        (datetime(2026, 12, 3, 11, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 12, 3, 12, 0, 1), True),  # naive: UTC, as the filter is sent
        (datetime(2026, 12, 3, 11, 59, 59), False),
        (datetime(2026, 12, 3, 13, 0, 0, tzinfo=timezone(timedelta(hours=1))), True),
        (datetime(2026, 12, 3, 12, 59, 0, tzinfo=timezone(timedelta(hours=1))), False),
    ],
)
def test_rows_kept_by_the_client_side_filter(updated_at: datetime | None, kept: bool) -> None:
    assert _changed_since(row(updated_at), SINCE) is kept


def test_every_row_is_kept_without_a_since_time() -> None:
    assert _changed_since(row(datetime(2000, 1, 1, tzinfo=UTC)), None)
