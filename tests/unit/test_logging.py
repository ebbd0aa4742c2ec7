"""Library (stdlib) log records come out like ours: same renderer, same redaction."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest

from services.common.logging import configure_logging, get_logger
from services.common.settings import LogSettings

SECRET = "tok-s3cr3t"


pytestmark = pytest.mark.usefixtures("restore_logging")


def last_json_line(out: str) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return line


# faststream: its loggers do not propagate to the root, so they need handling of their own.
@pytest.mark.parametrize("name", ["aiokafka", "faststream", "uvicorn.error"])
def test_library_records_are_json_and_redacted_when_stdout_is_not_a_tty(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("test", LogSettings(format="auto"))  # capsys' stdout is not a TTY
    logging.getLogger(name).warning("GET /products?api-token=%s failed", SECRET)
    out = capsys.readouterr().out
    assert SECRET not in out
    line = last_json_line(out)
    assert line["logger"] == name
    assert line["level"] == "warning"
    assert line["service"] == "test"
    assert line["event"] == "GET /products?api-token=*** failed"


def test_exception_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", LogSettings(format="json"))
    try:
        raise RuntimeError(f"refused: GET /baskets?api-token={SECRET}")
    except RuntimeError:
        get_logger("t").exception("ours failed")
        logging.getLogger("uvicorn.error").exception("library failed")
    out = capsys.readouterr().out
    assert SECRET not in out
    ours, library = (json.loads(line) for line in out.strip().splitlines()[-2:])
    assert "RuntimeError: refused: GET /baskets?api-token=***" in ours["exception"]
    assert "RuntimeError: refused: GET /baskets?api-token=***" in library["exception"]


def test_a_stream_chosen_with_basic_config_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    # syncctl sends logs to stderr: its stdout is the report a --json consumer parses.
    logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))
    configure_logging("syncctl", LogSettings(level="WARNING", format="console"))
    logging.getLogger("aiokafka").warning("broker gone")
    captured = capsys.readouterr()
    assert "broker gone" in captured.err
    assert captured.err.count("broker gone") == 1  # replaced, not duplicated
    assert "broker gone" not in captured.out
