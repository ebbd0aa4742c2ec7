"""Raw-shape capture for support: the first answer of each endpoint, logged once per process
with secrets and personal data taken out, so a merchant can send what the real API answers
without sending their customers or keys (`LOG_API_SAMPLES=true`).

Values are replaced by their type, except the shape-bearing ones (numbers, booleans, ids, keys,
codes and timestamps); lists are cut to their first two rows. What a field holds can still be
told apart ("str", "int", "null"), which is what a shape question needs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import structlog

from services.common.metrics import endpoint_template

log = structlog.get_logger(__name__)

ROWS_KEPT = 2
# Keys whose text values are not personal and say what shape a record has.
_SHAPE_KEYS = re.compile(
    r"(?i)^(id|uid|.*_id|number|.*_number|type|.*_type|key|key_name|event|status|currency|"
    r"vat_zone|sku_code|code|.*_at|.*_time|crdate|tstamp|created|date|.*_date|action|"
    r"urlfriendly_number|variations_formatted)$"
)
_SECRET_KEYS = re.compile(r"(?i)(token|secret|password|api[-_]?key|authorization)")


class SampleLog:
    """Logs each endpoint's first successful answer, once; off unless enabled."""

    def __init__(self, api: str, *, enabled: bool) -> None:
        self.api = api
        self.enabled = enabled
        self._seen: set[str] = set()

    def offer(self, method: str, path: str, body: Any) -> None:
        if not self.enabled:
            return
        endpoint = f"{method} {endpoint_template(path)}"
        if endpoint in self._seen:
            return
        self._seen.add(endpoint)
        sample = json.dumps(scrub(body), ensure_ascii=False, sort_keys=True)
        log.info("api answer sample", api=self.api, endpoint=endpoint, sample=sample)


def scrub(value: Any, key: str = "") -> Any:
    """`value` with every personal or secret text replaced by its type name."""
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        kept = [scrub(item, key) for item in value[:ROWS_KEPT]]
        return kept + ([f"... {len(value) - ROWS_KEPT} more"] if len(value) > ROWS_KEPT else [])
    if _SECRET_KEYS.search(key):
        return "<secret>"
    if isinstance(value, str) and not _shape_text(key, value):
        return "<str>" if value else ""
    return value


def _shape_text(key: str, value: str) -> bool:
    """An id, code or time (kept), not a name or an address hiding under an id-like key."""
    return bool(_SHAPE_KEYS.match(key)) and "@" not in value and len(value) <= 64
