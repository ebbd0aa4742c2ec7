"""The HTTP plumbing under both API clients: retries with backoff and jitter, `Retry-After`,
a smoothed client-side rate limit, and errors that say which call failed without leaking tokens.

Retries use tenacity and the rate limit uses aiolimiter: both well kept and typed, and both
easier to read than a hand-written loop.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from services.clients.health import UpstreamHealth
from services.clients.samples import SampleLog
from services.common import metrics

REDACTED = "***"
# shopbox_hook_id: the secret in Shopbox's push URL (apis-addendum A7).
_SECRET_QUERY = re.compile(r"(?i)(accessToken|api-token|api_token|token|shopbox_hook_id)=([^&\s]+)")


def redact(text: str) -> str:
    """Remove token values from URLs and messages (query parameters and bearer headers)."""
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return re.sub(r"(?i)bearer\s+\S+", f"Bearer {REDACTED}", text)


class ApiError(Exception):
    """A call to Shopbox or Rackbeat failed. The message names the call and the reason."""

    def __init__(self, api: str, call: str, status: int | None, reason: str) -> None:
        self.api = api
        self.call = redact(call)
        self.status = status
        self.reason = redact(reason)
        super().__init__(f"{api} {self.call} failed ({status or 'no response'}): {self.reason}")


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class ValidationFailed(ApiError):
    """422 with Laravel-style field errors: {"lines.0.item_id": ["Product needed"]}."""

    def __init__(self, api: str, call: str, field_errors: Mapping[str, list[str]]) -> None:
        self.field_errors = dict(field_errors)
        reason = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.field_errors.items())
        super().__init__(api, call, 422, reason or "validation failed")


class RateLimited(ApiError):
    def __init__(self, api: str, call: str, retry_after_s: float | None) -> None:
        self.retry_after_s = retry_after_s
        after = "no Retry-After" if retry_after_s is None else f"retry after {retry_after_s}s"
        super().__init__(api, call, 429, f"rate limited ({after})")


class ServerError(ApiError):
    pass


class TransportError(ApiError):
    pass


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (ServerError, RateLimited, TransportError))


def _is_rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, RateLimited)


class _RedactingLogFilter(logging.Filter):
    """httpx logs every request URL at INFO, query included: Shopbox's `api-token` with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


logging.getLogger("httpx").addFilter(_RedactingLogFilter())


class _WaitRetryAfter(wait_base):
    """Honour Retry-After on 429; exponential backoff with jitter otherwise."""

    def __init__(self, fallback: wait_base, cap_s: float) -> None:
        self.fallback = fallback
        self.cap_s = cap_s

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.cap_s)
        wait: float = self.fallback(retry_state)
        return wait


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    """Tries against 5xx and transport errors (about 6 s of backoff with the defaults)."""
    initial_s: float = 0.2
    max_s: float = 10.0
    jitter_s: float = 0.2
    rate_limited_s: float = 60.0
    """How long a call keeps retrying 429s, creates too: the server refused, so a retry is
    safe, and a per-minute limit has room again within a minute, `Retry-After` or not."""


class _StopRetrying(stop_base):
    """A 429 is retried until the next wait would pass `rate_limited_s` since the first try;
    any other failure stops after `attempts` of them. One per call: it counts that call."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.failures = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimited):
            spent = (retry_state.seconds_since_start or 0.0) + retry_state.upcoming_sleep
            return spent > self.policy.rate_limited_s
        self.failures += 1
        return self.failures >= self.policy.attempts


MAX_BURST = 5
"""The most calls the client-side limiter lets go at once after a quiet spell."""


def smoothed_limiter(requests_per_minute: int) -> AsyncLimiter:
    """The per-minute budget spread evenly over the minute: a bucket of one second's calls (at
    least 1, at most MAX_BURST) refilled at the per-minute rate; 480/min lets 5 go at once,
    then one every 125 ms. A bucket of the whole minute would allow a burst of 480, which a
    real per-second limit would refuse."""
    burst = max(1, min(MAX_BURST, requests_per_minute // 60))
    return AsyncLimiter(burst, burst * 60 / requests_per_minute)


class ApiClient:
    """Base for the typed clients: one httpx.AsyncClient, one rate limiter, one retry policy.

    Subclasses build requests and parse bodies; `_request` returns the decoded JSON or raises
    an `ApiError` subclass. Auth is supplied by the subclass as headers or query params and is
    never part of an error message.
    """

    api_name = "API"

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        requests_per_minute: int | None = None,
        timeout_s: float = 15.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=dict(headers or {}),
            params=dict(params or {}),
            timeout=httpx.Timeout(timeout_s, connect=5.0),
        )
        self._limiter = smoothed_limiter(requests_per_minute) if requests_per_minute else None
        self._retry = retry or RetryPolicy()
        self.health = UpstreamHealth(self.api_name)
        self.samples = SampleLog(self.api_name, enabled=False)
        """Logs each endpoint's first answer, scrubbed, when enabled (`LOG_API_SAMPLES`)."""

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: bool = True,
        idempotent: bool = True,
    ) -> Any:
        """One logical call; retried on 5xx, 429 and transport errors when `retry` is set.

        A non-`idempotent` call (e.g. a create) is retried only on 429, which the server refused
        before doing anything; a 5xx or timeout may already have done it. A 429 waits its
        `Retry-After` (capped), else the exponential backoff, for up to `rate_limited_s`.
        """
        policy = self._retry
        retrying = AsyncRetrying(
            stop=_StopRetrying(policy) if retry else stop_after_attempt(1),
            wait=_WaitRetryAfter(
                wait_exponential_jitter(
                    multiplier=policy.initial_s, max=policy.max_s, jitter=policy.jitter_s
                ),
                cap_s=policy.max_s * 6,
            ),
            retry=retry_if_exception(is_transient if idempotent else _is_rate_limited),
            before_sleep=self._count_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(method, path, params=params, json=json)
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One GET, decoded but not modelled: for diagnostics that look at the raw shape."""
        return await self._request("GET", path, params=params)

    def _count_retry(self, state: RetryCallState) -> None:
        metrics.UPSTREAM_RETRIES.labels(self.api_name).inc()
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and state.next_action is not None:
            metrics.rate_limit_wait(self.api_name, "server", state.next_action.sleep)

    async def _wait_for_limiter(self) -> None:
        if self._limiter is None:
            return
        if self._limiter.has_capacity():
            await self._limiter.acquire()
            return
        started = time.monotonic()
        await self._limiter.acquire()
        metrics.rate_limit_wait(self.api_name, "client", time.monotonic() - started)

    async def _send_once(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, json: Any
    ) -> Any:
        call = f"{method} /{path.lstrip('/')}"
        await self._wait_for_limiter()
        try:
            answer = await self._attempt(call, method, path, params=params, json=json)
        except ApiError as exc:
            if is_transient(exc):
                self.health.failed(exc.call, exc.status, exc.reason)
            else:  # it answered: about this call, not an outage
                self.health.succeeded()
            raise
        self.health.succeeded()
        return answer

    async def _attempt(
        self, call: str, method: str, path: str, *, params: Mapping[str, Any] | None, json: Any
    ) -> Any:
        started = time.monotonic()
        status: int | None = None
        try:
            response = await self._http.request(method, path.lstrip("/"), params=params, json=json)
            status = response.status_code
        except httpx.TimeoutException as exc:
            raise TransportError(
                self.api_name, call, None, f"timed out ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise TransportError(
                self.api_name, call, None, f"{type(exc).__name__}: {exc}"
            ) from None
        finally:
            elapsed = time.monotonic() - started
            metrics.observe_upstream(self.api_name, method, path, status, elapsed)
        answer = self._decode(call, response)
        self.samples.offer(method, path, answer)
        return answer

    def _decode(self, call: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status < 300:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                kind = response.headers.get("content-type", "no content type")
                raise ApiError(
                    self.api_name, call, status, f"answer is not JSON ({kind})"
                ) from None
        body = _json_or_none(response)
        message = _message_of(body) or response.reason_phrase
        if status == 401:
            raise Unauthorized(self.api_name, call, status, message or "unauthorized")
        if status == 403:
            raise Forbidden(self.api_name, call, status, message or "forbidden")
        if status == 404:
            raise NotFound(self.api_name, call, status, message or "not found")
        if status == 422:
            errors = body.get("errors") if isinstance(body, dict) else None
            if isinstance(errors, dict):
                raise ValidationFailed(self.api_name, call, errors)
            raise ValidationFailed(self.api_name, call, {"": [message or "unprocessable"]})
        if status == 429:
            raise RateLimited(self.api_name, call, _retry_after(response))
        if status >= 500:
            raise ServerError(self.api_name, call, status, message or "server error")
        raise ApiError(self.api_name, call, status, message or "unexpected status")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message_of(body: Any) -> str | None:
    """Both APIs' error shapes: {"message"}, {"error": "..."} and {"error": {"message"}}."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("message"), str):
        return str(body["message"])
    error = body.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
