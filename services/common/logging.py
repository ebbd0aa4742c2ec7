"""structlog set-up: JSON when stdout is not a terminal, readable console output when it is.

Library records (stdlib logging) go through the same processors. A redaction processor blanks any
value whose key looks secret and any token found in strings (tracebacks included), so a secret that
slips into a log call still never reaches the output.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from services.clients.http import REDACTED, redact
from services.common.settings import LogSettings

_SECRET_KEYS = ("token", "secret", "password", "authorization", "api_key", "apikey")
_HANDLER_NAME = "structlog"
_FASTSTREAM_LOGGERS = ("faststream", "faststream.access.kafka")


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
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Redact after format_exc_info: a traceback's text can carry a token too (a URL in a message).
    final: list[Processor] = [structlog.processors.format_exc_info, _redact_secrets, renderer]
    structlog.configure(
        processors=[*shared, *final],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiokafka, uvicorn, faststream, httpx) log through stdlib: same renderer and
    # redaction as ours, so a collector reading JSON lines gets only JSON lines.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *shared,
            structlog.stdlib.add_logger_name,
            # FastStream puts these on its access records (its own format prints them).
            structlog.stdlib.ExtraAdder(allow=("topic", "group_id", "message_id")),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    _route_stdlib_logging(formatter, max(level, logging.INFO))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").addFilter(_drop_connect_noise)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # One line per API call drowns what matters; failures are logged by our clients anyway.
    logging.getLogger("httpx").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    )


def _route_stdlib_logging(formatter: logging.Formatter, level: int) -> None:
    """One handler with `formatter` on the root logger, replacing an earlier one of ours."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == _HANDLER_NAME]
    plain = [h for h in root.handlers if type(h) is logging.StreamHandler and h not in ours]
    # A caller's basicConfig stream is kept (syncctl: stderr, as its stdout is the report).
    handler = logging.StreamHandler(plain[0].stream if plain else sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    for old in ours + plain:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # FastStream's loggers do not propagate and print through their own text handlers; its access
    # logger keeps ours (it adds its own only when none writes to stdout). Levels stay FastStream's.
    for name in _FASTSTREAM_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
    # uvicorn's own log config (applied by any uvicorn.Config made with the default, e.g. an
    # in-process simulator) gives its loggers text handlers and stops them propagating.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True


def _drop_connect_noise(record: logging.LogRecord) -> bool:
    """The runtime logs one clear line per failed connect; aiokafka's own repeats it."""
    return not str(record.msg).startswith("Unable connect to")


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
