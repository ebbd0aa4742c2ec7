"""Plumbing shared by the Shopbox and Rackbeat simulators: fault injection, request counts,
webhook delivery with retries, and a runner that serves an app on a real port.

The simulators are infrastructure, not mocks: services reach them over real HTTP. Everything an
operator or a test needs to steer them lives under the control prefix `/_control`, which faults
never touch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/_control"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Faults(BaseModel):
    """Faults set at run time through `PUT /_control/faults` (all off by default)."""

    error_rate: float = Field(0.0, ge=0, le=1, description="share of API calls answered 500")
    lost_response_rate: float = Field(
        0.0, ge=0, le=1, description="share of writes that take effect but are answered 500"
    )
    latency_ms: int = Field(0, ge=0, description="delay added to every API call")
    rate_limit_per_minute: int | None = Field(None, ge=1, description="429 above this, per token")
    webhook_drop_rate: float = Field(0.0, ge=0, le=1, description="webhooks never sent")
    webhook_duplicate_rate: float = Field(0.0, ge=0, le=1, description="webhooks sent twice")
    webhook_reorder_window: int = Field(0, ge=0, description="shuffle deliveries in groups of N")


def add_fault_options(parser: argparse.ArgumentParser, *, rate_limit: int | None) -> None:
    """The start-up faults, one option per `Faults` field (all can change at run time too)."""
    group = parser.add_argument_group("faults (also PUT /_control/faults at run time)")
    group.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 500")
    group.add_argument(
        "--lost-response-rate",
        type=float,
        default=0.0,
        help="share of writes applied, then answered 500",
    )
    group.add_argument("--latency-ms", type=int, default=0, help="delay added to every call")
    group.add_argument(
        "--rate-limit",
        type=int,
        default=rate_limit,
        help=f"requests/minute per token ({rate_limit})",
    )
    group.add_argument("--webhook-drop-rate", type=float, default=0.0)
    group.add_argument("--webhook-duplicate-rate", type=float, default=0.0)
    group.add_argument("--webhook-reorder-window", type=int, default=0)


def faults_from(args: argparse.Namespace) -> Faults:
    return Faults(
        error_rate=args.error_rate,
        lost_response_rate=args.lost_response_rate,
        latency_ms=args.latency_ms,
        rate_limit_per_minute=args.rate_limit,
        webhook_drop_rate=args.webhook_drop_rate,
        webhook_duplicate_rate=args.webhook_duplicate_rate,
        webhook_reorder_window=args.webhook_reorder_window,
    )


class TokenBucket:
    """A per-minute budget per token, refilled continuously (the limit the API enforces).

    `burst_s` is how much of the budget may go at once: 60 s lets a full bucket send the whole
    minute's calls in one burst, 1 s only one second's (`rate_limit_window`: a per-second limit).
    """

    def __init__(self, per_minute: int, burst_s: float = 60.0) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}

    def take(self, key: str) -> float:
        """Return 0 when the call may go ahead, else the seconds until one token is free."""
        now = time.monotonic()
        tokens = min(
            self.capacity,
            self._tokens.get(key, self.capacity) + (now - self._stamp.get(key, now)) * self.rate,
        )
        self._stamp[key] = now
        if tokens >= 1:
            self._tokens[key] = tokens - 1
            return 0.0
        self._tokens[key] = tokens
        return (1 - tokens) / self.rate


BURST_SECONDS = {"minute": 60.0, "second": 1.0}
"""The `rate_limit_window` switch: how many seconds of the budget one burst may spend."""


@dataclass
class SimulatorState:
    """What both simulators keep besides their domain data."""

    faults: Faults = field(default_factory=Faults)
    requests: Counter[str] = field(default_factory=Counter)
    bucket: TokenBucket | None = None
    admitted: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    """When the latest API calls got past the rate limit (monotonic s): the client's pacing."""
    rate_limit_window: str = "minute"
    rate_limit_retry_after: str = "sent"

    def use_switches(self, switches: Mapping[str, str]) -> None:
        """The rate-limit switches (RATE_LIMIT_SWITCHES); they outlive fault changes."""
        self.rate_limit_window = switches["rate_limit_window"]
        self.rate_limit_retry_after = switches["rate_limit_retry_after"]
        self.set_faults(self.faults)

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        per_minute = faults.rate_limit_per_minute
        burst_s = BURST_SECONDS[self.rate_limit_window]
        self.bucket = TokenBucket(per_minute, burst_s) if per_minute else None


def route_name(scope: Scope) -> str:
    """`GET /products/{number}` style key for request counts (the matched route's template)."""
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "?")
    return f"{scope.get('method', '?')} {path}"


class FaultMiddleware:
    """Counts API calls and applies latency, 429 and 5xx faults to everything outside /_control.

    `token_of` extracts the caller's token (header or query) so the rate limit is per token.
    """

    def __init__(
        self, app: ASGIApp, state: SimulatorState, token_of: Callable[[Scope], str]
    ) -> None:
        self.app = app
        self.state = state
        self.token_of = token_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        faults = self.state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if self.state.bucket is not None:
            wait = self.state.bucket.take(self.token_of(scope))
            if wait > 0:
                await self._refuse(wait, scope, receive, send)
                return
        self.state.admitted.append(time.monotonic())
        if faults.error_rate and random.random() < faults.error_rate:
            self.state.requests["500"] += 1
            await JSONResponse({"message": "Server Error"}, 500)(scope, receive, send)
            return

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.state.requests[route_name(scope)] += 1
            await send(message)

        if scope["method"] in WRITES and random.random() < faults.lost_response_rate:
            await self._lose_response(scope, receive, send)
            return
        await self.app(scope, receive, counting_send)

    async def _refuse(self, wait: float, scope: Scope, receive: Receive, send: Send) -> None:
        """429, with `Retry-After` in whole seconds unless the switch leaves it out."""
        self.state.requests["429"] += 1
        headers = {}
        if self.state.rate_limit_retry_after == "sent":
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        response = JSONResponse({"message": "Too Many Attempts."}, 429, headers=headers)
        await response(scope, receive, send)

    async def _lose_response(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The write is applied, then the answer is lost: a crash or a timeout after the commit,
        the case a client must not answer with a blind retry."""

        async def discard(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.state.requests[route_name(scope)] += 1

        await self.app(scope, receive, discard)
        self.state.requests["lost_response"] += 1
        await JSONResponse({"message": "Server Error"}, 500)(scope, receive, send)


def control_routes(
    state: SimulatorState,
    reset: Callable[[], None],
    default_faults: Callable[[], Faults] = Faults,
) -> list[Route]:
    """The shared part of the control surface: faults, request counts and times, reset.

    `default_faults` is what a reset restores (e.g. Rackbeat keeps its 480/min limit on).
    """

    async def get_faults(_: Request) -> Response:
        return JSONResponse(state.faults.model_dump())

    async def put_faults(request: Request) -> Response:
        try:
            faults = Faults.model_validate(await request.json())
        except ValueError as exc:
            return JSONResponse({"message": str(exc)}, 422)
        state.set_faults(faults)
        return JSONResponse(faults.model_dump())

    async def get_requests(_: Request) -> Response:
        return JSONResponse(dict(state.requests))

    async def get_admitted(_: Request) -> Response:
        return JSONResponse({"admitted": list(state.admitted)})

    async def post_reset(_: Request) -> Response:
        reset()
        state.requests.clear()
        state.admitted.clear()
        state.set_faults(default_faults())
        return JSONResponse({"reset": True})

    return [
        Route(f"{CONTROL_PREFIX}/faults", get_faults, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/faults", put_faults, methods=["PUT"]),
        Route(f"{CONTROL_PREFIX}/requests", get_requests, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/admitted", get_admitted, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/reset", post_reset, methods=["POST"]),
    ]


@dataclass(frozen=True)
class Delivery:
    url: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookDispatcher:
    """Delivers webhooks in the background with retries and backoff, like the real senders.

    Faults: drop (never sent), duplicate (sent twice), reorder (shuffled in small groups).
    `delivered` and `failed` count attempts so tests can see what happened. At most
    `max_in_flight` posts are open at once; the rest wait their turn here, not in httpx's pool,
    whose queue costs CPU per queued request at every change (hundreds of pushes queued for a
    slow receiver stalled the whole simulator).
    """

    state: SimulatorState
    max_attempts: int = 6
    base_backoff_s: float = 0.2
    timeout_s: float = 15.0
    max_in_flight: int = 32
    delivered: int = 0
    dropped: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    _pending: int = 0  # queued or in flight; counted at submit so `idle` never returns early
    _queue: asyncio.Queue[Delivery] | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _pump: asyncio.Task[None] | None = None
    _gate: asyncio.Semaphore | None = None

    def submit(self, delivery: Delivery) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._pump = asyncio.get_running_loop().create_task(self._run())
        faults = self.state.faults
        if faults.webhook_drop_rate and random.random() < faults.webhook_drop_rate:
            self.dropped += 1
            return
        self._pending += 1
        self._queue.put_nowait(delivery)
        if faults.webhook_duplicate_rate and random.random() < faults.webhook_duplicate_rate:
            self._pending += 1
            self._queue.put_nowait(delivery)

    @property
    def pending(self) -> int:
        return self._pending

    async def _run(self) -> None:
        assert self._queue is not None
        self._gate = asyncio.Semaphore(self.max_in_flight)
        timeout = httpx.Timeout(self.timeout_s, connect=3.0)
        limits = httpx.Limits(max_connections=self.max_in_flight)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            while True:
                batch = [await self._queue.get()]
                window = self.state.faults.webhook_reorder_window
                if window > 1:
                    await asyncio.sleep(0.05)  # let a group gather so there is something to shuffle
                    while len(batch) < window and not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                    random.shuffle(batch)
                for delivery in batch:
                    task = asyncio.create_task(self._deliver(client, delivery))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        try:
            for attempt in range(self.max_attempts):
                assert self._gate is not None
                try:
                    async with self._gate:
                        response = await client.post(
                            delivery.url, json=delivery.body, headers=delivery.headers
                        )
                    if response.is_success:
                        self.delivered += 1
                        return
                except httpx.HTTPError:
                    pass
                self.failed_attempts += 1
                if attempt + 1 < self.max_attempts:
                    await asyncio.sleep(self.base_backoff_s * 2**attempt)
            self.gave_up += 1
        finally:
            self._pending -= 1

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is queued or in flight (for tests and the demo)."""
        deadline = time.monotonic() + timeout
        while self._pending > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries still pending")
            await asyncio.sleep(0.02)

    async def aclose(self) -> None:
        for task in [*self._tasks, *([self._pump] if self._pump else [])]:
            task.cancel()


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_in_loop(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `app` over real HTTP inside the running event loop; yields the base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` from a background thread with its own loop (for sync callers); yields the URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"simulator failed to start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


Handler = Callable[[Request], Awaitable[Response]]
