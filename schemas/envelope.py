"""The envelope every record on every topic carries (docs/architecture.md).

Concrete events subclass `Event`, fix `type` with a Literal and add a typed `payload`. Event ids
are deterministic where the source allows (see `deterministic_id`), so a re-published fact has
the same id and consumers can drop it as a duplicate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

# Fixed namespace: the same source fact always maps to the same event id, on every machine.
_EVENT_NAMESPACE = uuid.UUID("6f1b3c9e-2d4a-4f7b-9c1e-5a8d7e6f4b21")


def deterministic_id(*parts: object) -> str:
    """A stable event id from source identity, e.g. ("shopbox", "basket", uid, "completed")."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, "/".join(str(p) for p in parts)))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    """Base for payloads: immutable, strict about unknown fields (schemas are the contract)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(Model):
    event_id: str = Field(description="unique; deterministic where the source allows")
    type: str = Field(description="event type name, fixed per subclass")
    schema_version: int = 1
    occurred_at: datetime = Field(description="when it happened at the source")
    observed_at: datetime = Field(default_factory=utcnow, description="when we saw it")
    source: str = Field(description="who published it, e.g. 'order-ingest/webhook'")
    causation_id: str | None = Field(None, description="event id that caused this one")
    correlation_id: str | None = Field(None, description="id shared by one business flow")
