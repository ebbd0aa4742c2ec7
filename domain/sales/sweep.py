"""What the reconciliation sweep re-publishes: a basket whose ledger entry does not show the
effect it needs, unless it waits in the dead letters for an operator. Pure and unit-tested."""

from __future__ import annotations

from schemas.orders import OrderOutcome
from services.clients.shopbox import Basket

DONE_FOR_SALE: frozenset[OrderOutcome] = frozenset({"created", "found_existing", "cancelled"})


def needs_republish(basket: Basket, outcome: OrderOutcome | None, dead_lettered: bool) -> bool:
    if basket.is_refund:
        done = outcome == "refunded"
    elif basket.canceled:
        done = outcome == "cancelled"
    else:
        done = outcome in DONE_FOR_SALE
    # A dead-lettered basket is re-driven by an operator (syncctl dlq redrive), not by a loop
    # that would fill the dead letters with the same failure every sweep.
    return not done and not dead_lettered
