"""docs/asyncapi/ is what `python -m infra.asyncapi` generates from the services' brokers today,
covers every topic of the catalog, gives every message a payload schema and a key, and every
`$ref` in it resolves."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from infra.asyncapi import DOCUMENTS, OUT, render
from schemas.topics import all_specs


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_committed_document_is_current(name: str) -> None:
    path = OUT / f"{name}.yaml"
    assert path.exists(), f"{path.name} missing: run python -m infra.asyncapi"
    assert path.read_text(encoding="utf-8") == render(name), (
        f"{path.name} is stale: run .venv/bin/python -m infra.asyncapi"
    )


def documents() -> dict[str, dict[str, Any]]:
    return {n: yaml.safe_load((OUT / f"{n}.yaml").read_text("utf-8")) for n in DOCUMENTS}


def test_every_topic_of_the_catalog_is_documented() -> None:
    addresses = {
        channel["address"] for doc in documents().values() for channel in doc["channels"].values()
    }
    wanted = {spec.name for spec in all_specs() if not spec.name.endswith(".redriven")}
    assert wanted - addresses == set()


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_message_has_a_schema_and_a_key_and_refs_resolve(name: str) -> None:
    doc = documents()[name]
    for message in doc["components"]["messages"].values():
        assert (
            message["payload"].get("properties")
            or message["payload"].get("oneOf")
            or (message["payload"].get("type") == "object")
        ), message
        assert message["bindings"]["kafka"]["key"]["description"]
    for ref in refs(doc):
        resolve(doc, ref)
