"""structlog set-up: JSON when stdout is not a terminal, readable console output when it is.

A redaction processor blanks any value whose key looks secret and any token found in strings, so
a secret that slips into a log call still never reaches the output.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from services.clients.http import REDACTED, redact
from services.common.settings import LogSettings

_SECRET_KEYS = ("token", "secret", "password", "authorization", "api_key", "apikey")


def _redact_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key, value in list(event.items()):
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = redact(value)
    return event


def configure_logging(service: str, settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings()
    as_json = settings.format == "json" or (settings.format == "auto" and not sys.stdout.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    level = logging.getLevelNamesMapping()[settings.level]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, uvicorn, faststream) log through stdlib: same level, same stream.
    logging.basicConfig(
        level=max(level, logging.INFO),
        stream=sys.stdout,
        format="%(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").addFilter(_drop_connect_noise)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # One line per API call drowns what matters; failures are logged by our clients anyway.
    logging.getLogger("httpx").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    )


def _drop_connect_noise(record: logging.LogRecord) -> bool:
    """The runtime logs one clear line per failed connect; aiokafka's own repeats it."""
    return not str(record.msg).startswith("Unable connect to")


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
