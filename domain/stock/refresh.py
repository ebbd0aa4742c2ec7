"""Which Rackbeat items to read next, and when: the ingest's debounce. Pure, no I/O.

A webhook (or a poll hit, or a ledger entry) asks for an item; the read happens `debounce_s`
after the first ask, so a burst of `inventory.changed` for one item becomes one read. `force`
means publish the reading even if the quantities did not change (a fresh read that settles a
sale, see pending.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Ask:
    due: float
    force: bool
    reason: str


class RefreshQueue:
    def __init__(self, debounce_s: float) -> None:
        self.debounce_s = debounce_s
        self._asks: dict[str, Ask] = {}
        self.requested = 0

    def request(self, item: str, now: float, *, force: bool = False, reason: str = "") -> None:
        self.requested += 1
        ask = self._asks.get(item)
        if ask is None:
            self._asks[item] = Ask(now + self.debounce_s, force, reason)
        else:
            ask.force = ask.force or force

    def take_due(self, now: float, limit: int = 50) -> list[tuple[str, Ask]]:
        due = sorted(
            ((item, ask) for item, ask in self._asks.items() if ask.due <= now),
            key=lambda pair: pair[1].due,
        )[:limit]
        for item, _ in due:
            del self._asks[item]
        return due

    def next_due(self) -> float | None:
        return min((ask.due for ask in self._asks.values()), default=None)

    def __len__(self) -> int:
        return len(self._asks)
