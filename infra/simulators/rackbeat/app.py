"""`create_app(config)`: the Rackbeat simulator as a Starlette app plus its in-memory state.

Layers, outermost first: fault injection and the per-token rate limit (shared FaultMiddleware),
`fail-next` statuses, bearer auth for `/api`, then the routes. `/_control` skips all but routing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.simulators.common import FaultMiddleware, control_routes
from infra.simulators.rackbeat.api import api_routes, error_response
from infra.simulators.rackbeat.control import rackbeat_control_routes
from infra.simulators.rackbeat.state import RackbeatConfig, RackbeatState
from infra.simulators.rackbeat.validation import Invalid, Missing

API_PREFIX = "/api"


def bearer_token(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


class BearerAuthMiddleware:
    """401 `{"message": "Unauthenticated."}` for `/api` calls without a known bearer token."""

    def __init__(self, app: ASGIApp, state: RackbeatState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            token = bearer_token(scope)
            if not token or token not in self.state.config.tokens:
                await JSONResponse({"message": "Unauthenticated."}, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class FailNextMiddleware:
    """Answers the next queued statuses (see `/_control/fail-next`) before the API sees them."""

    def __init__(self, app: ASGIApp, state: RackbeatState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(API_PREFIX)
            and self.state.fail_next
        ):
            status = self.state.fail_next.pop(0)
            self.state.sim.requests[str(status)] += 1
            await JSONResponse({"message": "Server Error"}, status)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(config: RackbeatConfig | None = None) -> tuple[Starlette, RackbeatState]:
    config = config or RackbeatConfig()
    state = RackbeatState(config)

    async def domain_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Invalid | Missing)
        return error_response(exc)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"message": exc.detail}, exc.status_code, headers=exc.headers)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await state.bus.dispatcher.aclose()

    app = Starlette(
        routes=[
            *api_routes(state, API_PREFIX),
            *control_routes(state.sim, state.reset, config.default_faults),
            *rackbeat_control_routes(state),
        ],
        middleware=[
            Middleware(FaultMiddleware, state=state.sim, token_of=bearer_token),
            Middleware(FailNextMiddleware, state=state),
            Middleware(BearerAuthMiddleware, state=state),
        ],
        exception_handlers={
            Invalid: domain_error,
            Missing: domain_error,
            HTTPException: http_error,
        },
        lifespan=lifespan,
    )
    return app, state
