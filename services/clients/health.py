"""Is an upstream API failing right now? Counted per client from every attempt it makes.

An outage must be named, not silent (docs/operating.md, "Upstream outages"): each failing
attempt (5xx, 429, timeout, connection error) is logged at WARNING with its status, at most one
line per `LOG_EVERY_S` per API with how many were left out, and `failing()` says
"Rackbeat failing since T (N errors)" until the next success, for /status, /health/ready and
the dashboard. A 4xx about one record (404, 422) is that record's problem, not an outage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

log = structlog.get_logger(__name__)
LOG_EVERY_S = 5.0


class UpstreamHealth:
    def __init__(self, api: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self._clock = clock
        self.failing_since: datetime | None = None
        self.errors = 0
        self.last_status: int | None = None
        self._logged_at = float("-inf")
        self._unlogged = 0

    def failed(self, call: str, status: int | None, reason: str) -> None:
        if self.failing_since is None:
            self.failing_since = datetime.now(UTC)
            self.errors = 0
        self.errors += 1
        self.last_status = status
        now = self._clock()
        if now - self._logged_at < LOG_EVERY_S:
            self._unlogged += 1
            return
        log.warning(
            f"{self.api} call failed",
            api=self.api,
            call=call,
            status=status or "no response",
            reason=reason[:300],
            errors_since=self.failing_since.isoformat(timespec="seconds"),
            errors=self.errors,
            not_logged_since_last=self._unlogged,
        )
        self._logged_at, self._unlogged = now, 0

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.info(f"{self.api} answers again", api=self.api, errors=self.errors)
        self.failing_since = None
        self.errors = 0

    def failing(self) -> str | None:
        """'Rackbeat failing since T (N errors, last 500)', or None while it answers."""
        if self.failing_since is None:
            return None
        since = self.failing_since.isoformat(timespec="seconds")
        last = self.last_status or "no response"
        return f"{self.api} failing since {since} ({self.errors} errors, last {last})"
