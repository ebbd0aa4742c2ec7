"""Shared fixtures, and a closing line that says how many tests used the real broker."""

from __future__ import annotations

import os

import pytest

# tests/deploy/ needs the compose stack that `make deploy-test` starts (and sets DEPLOY_TEST
# for); `make test` leaves it out.
collect_ignore = [] if os.environ.get("DEPLOY_TEST") else ["deploy"]

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.private_broker",
    "tests.fixtures.rackbeat_sim",
    "tests.fixtures.shopbox_sim",
    "tests.fixtures.services",
]

_REAL_BROKER_FIXTURES = {"kafka_bootstrap"}
_outcomes: dict[str, list[bool]] = {"all": [], "kafka": []}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _REAL_BROKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _outcomes["all"].append(report.passed)
        if "kafka" in report.keywords:
            _outcomes["kafka"].append(report.passed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran, kafka = _outcomes["all"], _outcomes["kafka"]
    terminalreporter.write_line(
        f"tests run: {len(ran)} ({sum(ran)} passed); "
        f"against the real Kafka broker: {len(kafka)} ({sum(kafka)} passed)"
    )
