"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 20, every: float = 0.05
) -> None:
    """Wait until `condition()` is true (sync or async); fail with a clear message on timeout."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"condition not met within {timeout} s: {condition}") from None
