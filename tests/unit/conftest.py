"""Fixtures shared by the unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

# The loggers configure_logging changes: the root, FastStream's own and uvicorn's.
_CONFIGURED = (
    "",
    "faststream",
    "faststream.access.kafka",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging caches loggers and installs handlers bound to this test's captured
    stdout: put back what was there, so later tests do not write to a closed stream."""
    loggers = [logging.getLogger(name) for name in _CONFIGURED]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    structlog.reset_defaults()
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
