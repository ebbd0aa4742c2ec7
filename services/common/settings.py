"""Settings from environment variables, `.env` and `doctor.env` (pydantic-settings), one class
per concern.

Every class reads its own prefix, so a service loads only what it uses, and docs/settings.md is
generated from these classes (`python -m infra.settings_doc`). Secrets are `SecretStr`: they
print as '**********'.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where the simulators run: the dev credentials below are public and only valid there.
_SIMULATOR_HOSTS = {"127.0.0.1", "localhost", "::1", "shopbox-sim", "rackbeat-sim"}
DEV_SHOPBOX_TOKEN = "shopbox-dev-token"  # noqa: S105 - the simulators' public dev value
DEV_SHOPBOX_HOOK_SECRET = "shopbox-dev-hook-secret"  # noqa: S105 - same
DEV_RACKBEAT_TOKEN = "rackbeat-sim-dev-token"  # noqa: S105 - same


def _refuse_dev_secrets(base_url: str, dev_secrets: dict[str, bool]) -> None:
    """A real API with the simulators' public dev credentials is a set-up mistake: say which."""
    if urlparse(base_url).hostname in _SIMULATOR_HOSTS:
        return
    unset = [name for name, is_dev in dev_secrets.items() if is_dev]
    if unset:
        raise ValueError(
            f"{base_url} is not a simulator, but {', '.join(unset)} still has the public dev "
            "value: set the real one in .env (see 'Connecting your real accounts' in README.md)"
        )


DOCTOR_ENV_FILE = "doctor.env"
"""What `syncctl doctor` detected, read before `.env` so the merchant's own settings win."""


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=(DOCTOR_ENV_FILE, ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )


class KafkaSettings(BaseSettings):
    model_config = _config("KAFKA_")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka brokers, comma-separated host:port"
    )
    topic_namespace: str = Field("", description="prefix for every topic name (tests, tenants)")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how every Kafka client connects (TLS and/or SASL)"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism, with a SASL_* protocol"
    )
    sasl_username: str | None = Field(
        None, description="SASL user; required with a SASL_* protocol (start fails without)"
    )
    sasl_password: SecretStr | None = Field(
        None, description="SASL password; required with a SASL_* protocol, never logged"
    )
    ssl_cafile: str | None = Field(None, description="CA bundle for TLS; system CAs if unset")
    ssl_certfile: str | None = Field(None, description="client certificate (PEM) for mutual TLS")
    ssl_keyfile: str | None = Field(None, description="its private key, if not in the certfile")
    request_timeout_ms: int = Field(
        10_000,
        description="timeout of one request to a broker (services' brokers, admin client, syncctl)",
    )
    replication_factor: int = Field(
        1, ge=1, description="of topics the pipeline creates; 3 on a cluster of 3 or more brokers"
    )
    connect_retry_max_s: float = Field(30.0, description="cap of the start-up connect backoff")


class RetrySettings(BaseSettings):
    """The in-handler retry budget before a record goes to its dead-letter topic."""

    model_config = _config("RETRY_")

    attempts: int = Field(
        5,
        ge=1,
        description="tries per record (a failure of the record itself) before its dead letter",
    )
    initial_backoff_s: float = Field(0.5, gt=0, description="first wait between those tries")
    max_backoff_s: float = Field(8.0, gt=0, description="cap of the exponential wait between tries")
    outage_budget_s: float = Field(
        900.0,
        ge=0,
        description="how long a record keeps retrying while the API it needs is unavailable "
        "(5xx, 429, timeouts) before it goes to the dead letters; the consumer's "
        "max.poll.interval is raised to match",
    )


class HttpSettings(BaseSettings):
    """Where a service serves its health endpoints and webhooks."""

    model_config = _config("HTTP_")

    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 in containers")
    port: int | None = Field(
        None, description="default: the service's own port (8001-8004, dashboard 8080, audit 8005)"
    )


class LogSettings(BaseSettings):
    model_config = _config("LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto = JSON lines unless stdout is a terminal"
    )
    api_samples: bool = Field(
        False,
        description="log the first answer of each Shopbox and Rackbeat endpoint once per process, "
        "with personal data and secrets replaced by their type: a sample of the real shapes to "
        "send to support",
    )


class ShopboxSettings(BaseSettings):
    model_config = _config("SHOPBOX_")

    base_url: str = Field(
        "http://127.0.0.1:8101/api/v3", description="Shopbox API v3 (default: the simulator)"
    )
    api_token: SecretStr = Field(
        SecretStr(DEV_SHOPBOX_TOKEN), description="Shopbox API token (`?api-token=`)"
    )
    webhook_secret: SecretStr = Field(
        SecretStr(DEV_SHOPBOX_HOOK_SECRET),
        description="secret query parameter (`shopbox_hook_id`) Shopbox calls our hook with",
    )
    requests_per_minute: int | None = Field(
        None,
        description="client-side limit of each process's Shopbox client, spread evenly (at most 5 "
        "calls at once); unset = none (Shopbox's own limit is unknown)",
    )
    prices_include_vat: bool = Field(True, description="Shopbox prices include VAT")

    @model_validator(mode="after")
    def _real_api_needs_real_secrets(self) -> ShopboxSettings:
        _refuse_dev_secrets(
            self.base_url,
            {
                "SHOPBOX_API_TOKEN": self.api_token.get_secret_value() == DEV_SHOPBOX_TOKEN,
                "SHOPBOX_WEBHOOK_SECRET": (
                    self.webhook_secret.get_secret_value() == DEV_SHOPBOX_HOOK_SECRET
                ),
            },
        )
        return self


class RackbeatSettings(BaseSettings):
    model_config = _config("RACKBEAT_")

    base_url: str = Field(
        "http://127.0.0.1:8102/api", description="Rackbeat API (default: the simulator)"
    )
    api_token: SecretStr = Field(
        SecretStr(DEV_RACKBEAT_TOKEN), description="Rackbeat API key (`Authorization: Bearer`)"
    )
    webhook_token: SecretStr | None = Field(
        None,
        description="token of an inventory.changed webhook the operator registered; when set, "
        "stock-publisher registers nothing",
    )
    requests_per_minute: int = Field(
        480,
        description="client-side limit of each process's Rackbeat client, spread evenly (at most "
        "5 calls at once): per process, not per token (docs/operating.md, API rate limits)",
    )
    prices_include_vat: bool = Field(False, description="Rackbeat sales prices include VAT")
    order_lookup: list[Literal["window", "search", "scan"]] = Field(
        ["window", "search", "scan"],
        min_length=1,
        description="how the writer looks for an order a lost answer may have made, in order of "
        "preference (a 422 also moves to the next); `syncctl doctor` drops what the API refuses",
    )
    refused_filters: list[str] = Field(
        [],
        description="list filters the API answers 422 to, `<path>?<filter>` (e.g. "
        "`products?updated_at_from`): walked unfiltered from the start; found by `syncctl doctor`",
    )

    @model_validator(mode="after")
    def _real_api_needs_real_secrets(self) -> RackbeatSettings:
        _refuse_dev_secrets(
            self.base_url,
            {"RACKBEAT_API_TOKEN": self.api_token.get_secret_value() == DEV_RACKBEAT_TOKEN},
        )
        return self


class SyncSettings(BaseSettings):
    """What the merchant chooses: directions, mapping, money rules."""

    model_config = _config("SYNC_")

    item_master: Literal["shopbox", "rackbeat", "none"] = Field(
        "shopbox",
        description="where items are edited; the other side follows (shopbox for variants)",
    )
    stock_enabled: bool = Field(True, description="push Rackbeat stock to Shopbox")
    vat_percent: Decimal = Field(Decimal(25), description="VAT rate used to convert prices")
    branch_locations: dict[str, int] = Field(
        default_factory=dict, description="Shopbox branch uid -> Rackbeat location, JSON"
    )


class OrderIngestSettings(BaseSettings):
    model_config = _config("ORDER_INGEST_")

    poll_enabled: bool = Field(
        True,
        description="poll GET /baskets on a schedule (the main path); when off, only a push that "
        "names no basket (Shopbox's updateInventory) starts a poll",
    )
    poll_interval_s: float = Field(5.0, gt=0, description="seconds between polls of GET /baskets")
    initial_lookback_s: int = Field(
        0,
        ge=0,
        description="first start without a cursor (no initial sync ran): the sync start point is "
        "this far before the start. Non-zero deliberately syncs sales made before it, which the "
        "stock in Rackbeat may already reflect",
    )
    sweep_interval_s: float = Field(300.0, gt=0, description="reconciliation sweep period")
    sweep_window_s: int = Field(86_400, gt=0, description="how far back the sweep looks")
    sweep_grace_s: float = Field(
        60.0, ge=0, description="the sweep leaves baskets younger than this to webhook and poll"
    )


class OrderWriterSettings(BaseSettings):
    model_config = _config("ORDER_WRITER_")

    group_id: str | None = Field(
        None, description="consumer group on shopbox.sales.v1; default `<namespace>order-writer`"
    )
    cash_customer_number: int = Field(1, description="Rackbeat customer every sale is booked on")
    order_state: Literal["booked", "draft"] = Field(
        "booked", description="booked reserves stock at once; draft waits for a person"
    )
    free_text_item_number: str | None = Field(
        None, description="Rackbeat item for Shopbox lines without a product (e.g. shipping)"
    )
    rounding_item_number: str | None = Field(
        None,
        description="VAT-free Rackbeat item of the øreafrunding line that makes each order's "
        "total equal the basket's; unset = no rounding line (docs/decisions/0014)",
    )
    vat_rounding: Literal["order", "line"] = Field(
        "order",
        description="how the Rackbeat account rounds VAT: once on the order's subtotal, or per "
        "line; the rounding line is computed the same way",
    )
    max_in_flight: int = Field(
        200,
        ge=1,
        description="sales handled at once (one at a time per basket); when full, the writer "
        "stops taking records and the backlog waits in Kafka",
    )


class StockSettings(BaseSettings):
    model_config = _config("STOCK_")

    quantity: Literal["available", "in_stock"] = Field(
        "available",
        description="which Rackbeat figure is pushed: in stock minus on order, or in stock",
    )
    safety_buffer: dict[int, Decimal] = Field(
        default_factory=dict, description="JSON: Rackbeat location number -> units held back"
    )
    public_url: str | None = Field(
        None,
        description="our public base URL; when set, the inventory.changed webhook is registered",
    )
    poll_interval_s: float = Field(30.0, gt=0, description="changed-since poll of Rackbeat items")
    full_sweep_interval_s: float = Field(900.0, gt=0, description="read every item's stock")
    read_debounce_s: float = Field(0.5, ge=0, description="gather webhooks per item before reading")
    push_quiet_s: float = Field(0.5, ge=0, description="write once a key has been quiet this long")
    push_max_delay_s: float = Field(3.0, gt=0, description="...or at the latest this long after")
    sales_lookback_hours: float = Field(
        48.0, gt=0, description="how far back unabsorbed Shopbox sales are read on start"
    )
    reconcile_interval_s: float = Field(
        300.0,
        ge=0,
        description="compare Shopbox with the targets and correct drift this often; 0 = off",
    )


class ItemMapperSettings(BaseSettings):
    model_config = _config("ITEM_MAPPER_")

    poll_interval_s: float = Field(2.0, gt=0, description="how often the master side is polled")
    rackbeat_group: int = Field(1, description="Rackbeat product group for created products")
    full_pass_interval_s: float = Field(
        300.0, gt=0, description="how often the master is read in full (finds removed SKUs)"
    )
    initial_sync_concurrency: int = Field(8, ge=1, description="products applied in parallel")


class DashboardSettings(BaseSettings):
    model_config = _config("DASHBOARD_")

    order_ingest_url: str = Field("http://127.0.0.1:8001", description="order-ingest base URL")
    order_writer_url: str = Field("http://127.0.0.1:8002", description="order-writer base URL")
    stock_publisher_url: str = Field(
        "http://127.0.0.1:8003", description="stock-publisher base URL"
    )
    item_mapper_url: str = Field("http://127.0.0.1:8004", description="item-mapper base URL")
    refresh_s: int = Field(5, ge=1, description="the page reloads itself this often")
    recent_records: int = Field(20, ge=1, le=500, description="rows of recent activity shown")
    dead_letters_shown: int = Field(10, ge=1, le=500, description="newest dead letters shown")
    lag_warning: int = Field(100, ge=1, description="a group this far behind marks its direction")
    lag_age_warning_s: float = Field(
        120, gt=0, description="an unprocessed record this old (seconds) marks its direction"
    )
    syncctl_command: str = Field(
        ".venv/bin/syncctl",
        description="how an operator runs syncctl where this dashboard runs: the commands it "
        "shows start with this (compose: `docker compose -f infra/compose.yaml exec dashboard "
        "python -m services.syncctl`)",
    )

    def service_urls(self) -> dict[str, str]:
        return {
            "order-ingest": self.order_ingest_url,
            "order-writer": self.order_writer_url,
            "stock-publisher": self.stock_publisher_url,
            "item-mapper": self.item_mapper_url,
        }


class AuditSettings(BaseSettings):
    model_config = _config("AUDIT_")

    group_id: str = Field("audit", description="consumer group; a new name re-reads from the start")
