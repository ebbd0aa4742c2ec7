"""Secrets never reach logs or exception texts."""

from __future__ import annotations

import json

import pytest

from services.clients.http import ApiError, redact
from services.common.logging import configure_logging, get_logger
from services.common.settings import LogSettings, RackbeatSettings, ShopboxSettings


def test_redact_removes_tokens_from_urls_and_bearer_headers() -> None:
    text = redact("GET /products?api-token=s3cr3t&page=2 Authorization: Bearer abc.def")
    assert "s3cr3t" not in text
    assert "abc.def" not in text
    assert "page=2" in text


def test_api_errors_never_carry_the_token() -> None:
    error = ApiError("Shopbox", "GET /baskets?api-token=s3cr3t", 500, "boom api-token=s3cr3t")
    assert "s3cr3t" not in str(error)


def test_settings_do_not_print_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RACKBEAT_API_TOKEN", "rb-very-secret")
    settings = RackbeatSettings()
    assert "rb-very-secret" not in repr(settings)
    assert settings.api_token.get_secret_value() == "rb-very-secret"


@pytest.mark.usefixtures("restore_logging")
def test_log_lines_redact_secret_keys_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", LogSettings(format="json"))
    get_logger("t").info(
        "calling", api_token="tok-123", url="https://x/api?accessToken=tok-456", note="fine"
    )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["api_token"] == "***"
    assert "tok-456" not in line["url"]
    assert line["note"] == "fine"


def test_a_real_api_with_the_public_dev_credentials_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RACKBEAT_BASE_URL", "https://app.rackbeat.com/api")
    with pytest.raises(ValueError, match="RACKBEAT_API_TOKEN still has the public dev value"):
        RackbeatSettings()
    monkeypatch.setenv("RACKBEAT_API_TOKEN", "a-real-key")
    assert RackbeatSettings().api_token.get_secret_value() == "a-real-key"

    monkeypatch.setenv("SHOPBOX_BASE_URL", "https://api.shopbox.com/api/v3")
    monkeypatch.setenv("SHOPBOX_API_TOKEN", "a-real-token")
    with pytest.raises(ValueError, match="SHOPBOX_WEBHOOK_SECRET"):
        ShopboxSettings()


def test_the_simulators_accept_the_dev_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOX_BASE_URL", "http://shopbox-sim:8101/api/v3")
    assert ShopboxSettings().api_token.get_secret_value() == "shopbox-dev-token"
