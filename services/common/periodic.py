"""The one "do this every N seconds" loop of the services (polls, sweeps, reconciliation).

A failed run is logged with the job's name and the next one comes at the usual time: a poll
that fails because an API is down must not stop polling, and must not spin either. The service
runtime (`services.common.runtime`) restarts a loop that dies of anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from services.common.logging import get_logger

log = get_logger(__name__)


async def every(
    interval_s: float | None,
    job: Callable[[], Awaitable[object]],
    *,
    name: str,
    wait_first: bool = False,
    on_error: Callable[[Exception], None] | None = None,
    wake: asyncio.Event | None = None,
) -> None:
    """Run `job` forever, `interval_s` apart (None: only when woken). With `wait_first`, the
    first run comes after one interval (e.g. a sweep the start-up already covered); otherwise at
    once. Setting `wake` runs it at once (e.g. a push that says "poll now")."""
    if wait_first:
        await _pause(interval_s, wake)
    while True:
        try:
            await job()
        except Exception as exc:
            if on_error is not None:
                on_error(exc)
            when = "when woken" if interval_s is None else f"in {interval_s:g} s"
            log.warning(f"{name} failed; next one {when}", error=str(exc))
        await _pause(interval_s, wake)


async def _pause(interval_s: float | None, wake: asyncio.Event | None) -> None:
    """Sleep `interval_s` (None: no limit), or until `wake` is set, which it clears."""
    if wake is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval_s)
        wake.clear()
    elif interval_s is not None:
        await asyncio.sleep(interval_s)
    else:
        raise ValueError("every() needs an interval, a wake event or both")
