"""Laravel-style validation: collect messages per dotted field path, then fail with 422 once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class Invalid(Exception):
    """Answered as 422 `{"message", "errors": {"dotted.path": ["msg"]}}`."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


class Missing(Exception):
    """Answered as 404 `{"message": ...}`."""


class Errors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.by_field.setdefault(path, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise Invalid(self.by_field)


def invalid(path: str, message: str) -> Invalid:
    return Invalid({path: [message]})


def text(
    body: dict[str, Any],
    key: str,
    errors: Errors,
    *,
    path: str | None = None,
    required: bool = False,
    max_len: int = 255,
) -> str | None:
    path = path or key
    value = body.get(key)
    if value is None or value == "":
        if required:
            errors.add(path, f"The {path} field is required.")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        errors.add(path, f"The {path} must be a string.")
        return None
    value = str(value)
    if len(value) > max_len:
        errors.add(path, f"The {path} may not be greater than {max_len} characters.")
        return None
    return value


def number(
    body: dict[str, Any],
    key: str,
    errors: Errors,
    *,
    path: str | None = None,
    required: bool = False,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Decimal | None:
    """Numbers and numeric strings, as Laravel's `numeric` rule accepts them."""
    path = path or key
    value = body.get(key)
    if value is None or value == "":
        if required:
            errors.add(path, f"The {path} field is required.")
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        result = Decimal(str(value))
        if not result.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors.add(path, f"The {path} must be a number.")
        return None
    if minimum is not None and result < minimum:
        errors.add(path, f"The {path} must be at least {minimum}.")
        return None
    if maximum is not None and result > maximum:
        errors.add(path, f"The {path} may not be greater than {maximum}.")
        return None
    return result


def integer(
    body: dict[str, Any],
    key: str,
    errors: Errors,
    *,
    path: str | None = None,
    required: bool = False,
) -> int | None:
    path = path or key
    value = body.get(key)
    if value is None or value == "":
        if required:
            errors.add(path, f"The {path} field is required.")
        return None
    if isinstance(value, bool):
        errors.add(path, f"The {path} must be an integer.")
        return None
    try:
        return int(str(value))
    except ValueError:
        errors.add(path, f"The {path} must be an integer.")
        return None


def flag(value: Any) -> bool:
    """Query-string and JSON booleans: true/1/yes and True count as set."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def boolean(body: dict[str, Any], key: str, errors: Errors, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or str(value).lower() in {"0", "1", "true", "false"}:
        return flag(value)
    errors.add(key, f"The {key} field must be true or false.")
    return default


def day(body: dict[str, Any], key: str, errors: Errors) -> date | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        errors.add(key, f"The {key} is not a valid date.")
        return None


def timestamp(value: str, name: str) -> datetime:
    """`2025-07-14 00:00:00` (Rackbeat's filter format), ISO 8601 also accepted; naive = UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise invalid(name, f"The {name} is not a valid date.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
