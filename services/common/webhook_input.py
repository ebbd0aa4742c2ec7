"""Reading an untrusted webhook body: bounded in size and nesting, JSON, clean text.

Both receivers (order-ingest's Shopbox push, stock-publisher's Rackbeat webhook) read their body
here, so hostile input is refused the same way everywhere with a 4xx and a reason
(docs/operating.md, "Hostile webhook input"): 415 for a content type that is not JSON, 413 for a
body over `MAX_BODY_BYTES` (checked on the declared length and again while streaming, so a large
body is never held in memory), 400 for a body that is not JSON or nests deeper than `MAX_DEPTH`
(measured before parsing, so `json.loads` never recurses deep enough to raise RecursionError),
422 for text holding a NUL or a lone surrogate, which no identifier of either API contains and
which would fail later when logged, rendered or put in a URL.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

# Real pushes are well under 1 KiB (docs/api-assumptions.md, W1 and W2): 64 KiB leaves room.
MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32
# Longest identifier (item number, basket uid) passed on: Rackbeat's item numbers are short
# strings, and a longer one only ever fails later as a URL too long.
MAX_IDENTIFIER_CHARS = 255


class Rejected(Exception):
    """A request refused at the edge: the status and the reason the sender gets back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_content_type(request: Request) -> None:
    """JSON or no declared type (a sender that omits it); anything else is a 415."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared and declared != "application/json" and not declared.endswith("+json"):
        raise Rejected(415, f"content type {declared[:100]!r} is not application/json")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body of {declared} bytes is over the {limit} byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def nesting_depth(raw: bytes) -> int:
    """How deep arrays/objects nest, counted on the bytes (strings skipped) without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def parse_json(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body, or Rejected with the reason (never RecursionError, never a bad string)."""
    if nesting_depth(raw) > max_depth:
        raise Rejected(400, f"body nests deeper than {max_depth} levels")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Rejected(400, "body is not valid UTF-8 JSON") from None
    bad = first_bad_text(body)
    if bad is not None:
        raise Rejected(422, f"body holds {bad}")
    return body


def first_bad_text(value: Any) -> str | None:
    """What is wrong with the first string (key or value) holding a NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
    return None


def text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (not valid unicode)"
    return None


def identifier(value: str, what: str) -> str:
    """`value` as an identifier we pass on, or Rejected (422): bounded, printable, clean."""
    problem = text_problem(value)
    if problem:
        raise Rejected(422, f"{what} holds {problem}")
    if len(value) > MAX_IDENTIFIER_CHARS:
        raise Rejected(422, f"{what} is {len(value)} characters; at most {MAX_IDENTIFIER_CHARS}")
    if not value.isprintable():
        raise Rejected(422, f"{what} holds control characters")
    return value


async def json_body(request: Request) -> Any:
    """Content type, size, nesting and text checked: the parsed JSON body, or Rejected."""
    check_content_type(request)
    return parse_json(await read_body(request))
