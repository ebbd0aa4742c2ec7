"""Which topic namespace syncctl reads, where that came from, and whether it holds the pipeline.

A wrong or empty `KAFKA_TOPIC_NAMESPACE` otherwise gives empty tables, which look like a
healthy, idle system; the check names the namespace and its source instead.
"""

from __future__ import annotations

import os

from schemas.topics import all_specs
from services.common.lags import admin_client
from services.common.settings import KafkaSettings

ENV_VAR = "KAFKA_TOPIC_NAMESPACE"


def catalog_names(namespace: str) -> set[str]:
    return {f"{namespace}{spec.name}" for spec in all_specs()}


def namespace_source(kafka: KafkaSettings) -> str:
    if ENV_VAR in os.environ:
        return f"environment variable {ENV_VAR}"
    if "topic_namespace" in kafka.model_fields_set:
        return f"{ENV_VAR} in the .env file"
    return f"the default ({ENV_VAR} not set)"


def describe(kafka: KafkaSettings) -> str:
    shown = repr(kafka.topic_namespace) if kafka.topic_namespace else "'' (no prefix)"
    return f"namespace {shown}, from {namespace_source(kafka)}"


async def missing_pipeline_warning(kafka: KafkaSettings) -> str | None:
    """A warning when the broker has none of the catalog's topics under the namespace."""
    admin = await admin_client(kafka)
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    if catalog_names(kafka.topic_namespace) & existing:
        return None
    return (
        f"none of the pipeline's topics exist in {describe(kafka)} on "
        f"{kafka.bootstrap_servers}: set {ENV_VAR} to the namespace the services use "
        "(or create the topics with `syncctl topics create`)"
    )
