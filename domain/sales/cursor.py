"""The poll cursor over `GET /baskets` (newest first): which baskets are new, and where to resume.

Shopbox basket times are whole seconds, so the cursor keeps the time of the newest basket
published and the uids already published at exactly that time: a basket rung up later in the
same second is still new, and nothing is published twice by the poller. The cursor also carries
the sync start point (`floor`): the first cursor starts at it, and every later one keeps it.
Pure and unit-tested.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.sales import SalesPollCursor
from services.clients.shopbox import Basket


def initial_cursor(now: int, lookback_s: int) -> SalesPollCursor:
    """The first cursor: polling and the sync start point both begin `lookback_s` before now."""
    start = max(0, now - lookback_s)
    return SalesPollCursor(creation_time=start, uids_at_time=[], floor=start)


def before_start_point(cursor: SalesPollCursor, creation_time: int) -> bool:
    """A basket created before the sync start point: its sale is already in the stock the
    initial sync copied, so syncing it would subtract it twice. No floor: nothing is."""
    return cursor.floor is not None and creation_time < cursor.floor


def advance(
    cursor: SalesPollCursor, listed: Iterable[Basket]
) -> tuple[list[Basket], SalesPollCursor]:
    """From the baskets listed `since=cursor.creation_time`: the new ones (oldest first) and the
    cursor after publishing them."""
    done = set(cursor.uids_at_time)
    new = [
        basket
        for basket in listed
        if (
            basket.creation_time > cursor.creation_time
            or (basket.creation_time == cursor.creation_time and basket.uid not in done)
        )
        and not before_start_point(cursor, basket.creation_time)
    ]
    new.sort(key=lambda b: (b.creation_time, _uid_order(b.uid)))
    if not new:
        return [], cursor
    newest = new[-1].creation_time
    at_newest = [b.uid for b in new if b.creation_time == newest]
    if newest == cursor.creation_time:
        at_newest = sorted(done | set(at_newest))
    return new, cursor.model_copy(update={"creation_time": newest, "uids_at_time": at_newest})


def _uid_order(uid: str) -> tuple[int, str]:
    return (int(uid), "") if uid.isdigit() else (0, uid)
