"""The pusher's per-key latest-value buffer, with the offsets it may commit. Pure, no I/O.

Every observation read from `rackbeat.stock.v1` goes into the buffer under its stock key; a
newer observation of the same key replaces an older one (by `observed_at`, never by arrival),
so a burst becomes one write of the newest value. A key is due once it has been quiet for
`quiet_s`, or `max_delay_s` after it first arrived. The committable offset of a partition is the
lowest offset still waiting in the buffer (or, with nothing waiting, the consumer position), so
an offset is committed only after every record before it has been written or superseded by a
record that has: at-least-once, with the coalescing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.stock import StockObserved


@dataclass
class Entry:
    event: StockObserved
    partition: int
    first_offset: int
    """Lowest offset coalesced into this entry that is not written yet."""
    first_seen: float
    last_seen: float
    attempts: int = 0
    not_before: float = 0.0


class PushBuffer:
    def __init__(self, quiet_s: float, max_delay_s: float) -> None:
        self.quiet_s = quiet_s
        self.max_delay_s = max_delay_s
        self._entries: dict[str, Entry] = {}
        self._applied: dict[str, datetime] = {}
        self.received = 0
        self.stale = 0

    def offer(
        self, key: str, event: StockObserved, partition: int, offset: int, now: float
    ) -> bool:
        """Take one record; False when it is older than what was already applied or buffered."""
        self.received += 1
        applied = self._applied.get(key)
        entry = self._entries.get(key)
        if (applied and event.observed_at < applied) or (
            entry and event.observed_at < entry.event.observed_at
        ):
            self.stale += 1
            return False
        if entry is None:
            self._entries[key] = Entry(event, partition, offset, now, now)
        else:
            entry.event = event
            entry.last_seen = now
        return True

    def due(self, now: float) -> list[tuple[str, Entry]]:
        return [
            (key, entry)
            for key, entry in self._entries.items()
            if now >= entry.not_before
            and (
                now - entry.last_seen >= self.quiet_s or now - entry.first_seen >= self.max_delay_s
            )
        ]

    def done(self, key: str, entry: Entry) -> None:
        """The entry's value reached Shopbox (or was decided on for good): forget it."""
        if self._entries.get(key) is entry:
            del self._entries[key]
        applied = self._applied.get(key)
        if applied is None or entry.event.observed_at > applied:
            self._applied[key] = entry.event.observed_at

    def waiting(self, key: str) -> bool:
        """A value for this key is buffered and not written yet."""
        return key in self._entries

    def applied_at(self, key: str) -> datetime | None:
        """`observed_at` of the newest value of this key that reached Shopbox (this run)."""
        return self._applied.get(key)

    def mark_applied(self, key: str, observed_at: datetime) -> None:
        """A value observed at `observed_at` reached Shopbox another way (the reconciler): older
        records of this key that arrive later are stale and are dropped."""
        applied = self._applied.get(key)
        if applied is None or observed_at > applied:
            self._applied[key] = observed_at

    def retry_later(self, entry: Entry, now: float, max_backoff_s: float = 30.0) -> float:
        entry.attempts += 1
        delay = min(max_backoff_s, 0.5 * 2.0 ** (entry.attempts - 1))
        entry.not_before = now + delay
        return delay

    def committable(self, positions: dict[int, int]) -> dict[int, int]:
        """Offset to commit per partition, given the consumer's position in each."""
        result = dict(positions)
        for entry in self._entries.values():
            if entry.partition in result:
                result[entry.partition] = min(result[entry.partition], entry.first_offset)
        return result

    def forget_partitions(self, partitions: set[int]) -> None:
        """On revocation: the new owner re-reads these from the committed offset."""
        for key in [k for k, e in self._entries.items() if e.partition in partitions]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
