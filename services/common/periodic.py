"""The one "do this every N seconds" loop of the services (polls, sweeps, reconciliation).

A failed run is logged with the job's name and the next one comes at the usual time: a poll
that fails because an API is down must not stop polling, and must not spin either. The service
runtime (`services.common.runtime`) restarts a loop that dies of anything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from services.common.logging import get_logger

log = get_logger(__name__)


async def every(
    interval_s: float,
    job: Callable[[], Awaitable[object]],
    *,
    name: str,
    wait_first: bool = False,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Run `job` forever, `interval_s` apart. With `wait_first`, the first run comes after one
    interval (e.g. a sweep the start-up already covered); otherwise at once."""
    if wait_first:
        await asyncio.sleep(interval_s)
    while True:
        try:
            await job()
        except Exception as exc:
            if on_error is not None:
                on_error(exc)
            log.warning(f"{name} failed; next one in {interval_s:g} s", error=str(exc))
        await asyncio.sleep(interval_s)
