"""The settings reference, generated from the pydantic settings classes.

    .venv/bin/python -m infra.settings_doc > docs/settings.md

Every class in `services/common/settings.py` becomes one table: the environment variable, its
type, its default and the field's `description`. Secrets (`SecretStr`) are shown as secrets,
never with a value. `tests/unit/test_settings_doc.py` fails when docs/settings.md is stale or a
field has no description.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from decimal import Decimal

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from services.common import settings as settings_module

REGENERATE = ".venv/bin/python -m infra.settings_doc > docs/settings.md"

# Who reads each class: one line per table. A new class needs a line here (the test says so).
READERS: dict[str, str] = {
    "KafkaSettings": "Every service, syncctl and the dashboard.",
    "RetrySettings": "order-writer and item-mapper: retries of a record before its dead letter.",
    "HttpSettings": "Every service: where it serves its health endpoints and webhooks.",
    "LogSettings": "Every process.",
    "ShopboxSettings": "Every process that calls Shopbox.",
    "RackbeatSettings": "Every process that calls Rackbeat, and stock-publisher's webhook.",
    "SyncSettings": "The merchant's choices: order-writer, stock-publisher, item-mapper, syncctl.",
    "OrderIngestSettings": "order-ingest.",
    "OrderWriterSettings": "order-writer.",
    "StockSettings": "stock-publisher (and `syncctl drift`).",
    "ItemMapperSettings": "item-mapper and `syncctl initial-sync`.",
    "DashboardSettings": "The dashboard.",
    "AuditSettings": "The optional audit consumer (`python -m services.audit`).",
}

HEADER = f"""# Settings reference

<!-- Generated from services/common/settings.py: do not edit by hand. Regenerate with
     {REGENERATE} -->

Every setting is an environment variable. A `.env` file in the directory a process starts from
is read too, and before it `doctor.env` (what `syncctl doctor` detected); a variable set in the
process's environment wins over `.env`, which wins over `doctor.env`. `.env.example` (for
`make run-live`) and `infra/compose.env.example` (for the containers) list the usual ones.

Secrets are `SecretStr`: they print as `**********`, the log pipeline redacts keys that look
secret and tokens in URLs, and the API clients' errors redact them too. A service refuses to
start when an API URL is not a simulator but its token (or the Shopbox webhook secret) still has
the simulators' public dev value.

A JSON setting (`SYNC_BRANCH_LOCATIONS`, `STOCK_SAFETY_BUFFER`, the lists) is one JSON value on
one line, e.g. `SYNC_BRANCH_LOCATIONS={{"1": 1, "2": 2}}` or
`RACKBEAT_ORDER_LOOKUP=["window", "scan"]`.
"""

FOOTER = """## Not in these tables

- `make run` sets its own values for the demo whatever `.env` says (`infra/processes.py`,
  `DEMO_ENV`): the simulators' URLs and dev tokens, `SYNC_BRANCH_LOCATIONS={"1": 1, "2": 2}`,
  `RACKBEAT_REQUESTS_PER_MINUTE=6000`, webhooks on, and a fresh `KAFKA_TOPIC_NAMESPACE`
  (`demo-<time>.`) per run.
- The simulators read `SHOPBOX_SIM_TOKEN`, `SHOPBOX_SIM_WEBHOOK_URL`, `RACKBEAT_SIM_TOKEN` and
  `RACKBEAT_SIM_RATE_LIMIT` (see infra/simulators/README.md).
- The local broker script `infra/kafka/kafka.sh` reads `KAFKA_PORT` (9092),
  `KAFKA_CONTROLLER_PORT` (9093), `KAFKA_HOME_DIR` (`.kafka`), `KAFKA_VERSION` (4.1.1),
  `KAFKA_JARS_CACHE` (`~/.cache/shopbox-rackbeat/kafka-<version>`) and `KAFKA_CLUSTER_ID`.
- How the per-process API rate limits add up, and how to split one token's budget between
  processes: docs/operating.md, "API rate limits".
"""


def settings_classes() -> list[type[BaseSettings]]:
    """The settings classes, in the order settings.py defines them."""
    return [
        value
        for value in vars(settings_module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == settings_module.__name__
    ]


def env_name(cls: type[BaseSettings], field: str) -> str:
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def is_secret(field: FieldInfo) -> bool:
    return SecretStr in _members(field.annotation)


def _members(annotation: object) -> tuple[object, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def type_text(field: FieldInfo) -> str:
    members = [m for m in _members(field.annotation) if m is not type(None)]
    text = " or ".join(_type_name(m) for m in members)
    limits = _limits(field)
    return f"{text} ({limits})" if limits else text


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin is dict:
        key, value = (_type_name(arg) for arg in typing.get_args(annotation))
        return f"JSON object ({key} → {value})"
    if origin is list:
        (member,) = (_type_name(arg) for arg in typing.get_args(annotation))
        return f"JSON list of {member}"
    names = {SecretStr: "secret", str: "text", int: "integer", float: "number", bool: "boolean"}
    names[Decimal] = "decimal"
    if isinstance(annotation, type) and annotation in names:
        return names[annotation]
    return str(annotation)


def _limits(field: FieldInfo) -> str:
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    found = [
        f"{sign} {getattr(item, bound)}"
        for item in field.metadata
        for bound, sign in signs.items()
        if hasattr(item, bound)
    ]
    return ", ".join(found)


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: object = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if is_secret(field):
        return "(unset)" if value is None else "the simulators' public dev value"
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "(empty)"
    if isinstance(value, dict):
        return f"`{value}`" if value else "`{}`"
    return f"`{value}`"


def table(cls: type[BaseSettings]) -> Iterator[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    yield f"## `{prefix}*` ({cls.__name__})"
    yield ""
    yield READERS.get(cls.__name__, "")
    yield ""
    yield "| Variable | Type | Default | Meaning |"
    yield "|---|---|---|---|"
    for name, field in cls.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        secret = " **Secret.**" if is_secret(field) else ""
        yield (
            f"| `{env_name(cls, name)}` | {type_text(field)} | {default_text(field)} "
            f"| {meaning}{secret} |"
        )
    yield ""


def render() -> str:
    lines = [HEADER]
    for cls in settings_classes():
        lines.extend(table(cls))
    lines.append(FOOTER)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
