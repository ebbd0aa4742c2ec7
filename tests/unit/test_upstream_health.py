"""Counting an upstream's failing attempts: named until the next answer, logs rate-limited."""

from __future__ import annotations

from services.clients.health import LOG_EVERY_S, UpstreamHealth


def test_failing_is_named_until_the_next_answer_and_logs_are_rate_limited() -> None:
    now = [0.0]
    health = UpstreamHealth("Rackbeat", clock=lambda: now[0])
    assert health.failing() is None
    for _ in range(5):
        health.failed("POST /orders", 500, "server error")
    assert health._unlogged == 4  # one line for the first, four left out
    now[0] += LOG_EVERY_S
    health.failed("POST /orders", None, "timed out")
    assert health._unlogged == 0
    failing = health.failing()
    assert failing is not None and failing.startswith("Rackbeat failing since ")
    assert failing.endswith("(6 errors, last no response)")
    health.succeeded()
    assert health.failing() is None
