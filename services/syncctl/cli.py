"""syncctl: the operator's CLI. It reads the streams and acts through them (create topics,
re-drive dead letters, replay a direction), never by writing to the two APIs behind the
services' backs. Commands live in small modules and register here.
"""

from __future__ import annotations

import asyncio

import typer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console

from schemas.topics import ensure_topics
from services.common.kafka import client_kwargs
from services.common.settings import KafkaSettings

app = typer.Typer(help="Operate the Shopbox <-> Rackbeat sync.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics of the pipeline.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
console = Console()


@topics_app.command("create")
def create_topics() -> None:
    """Create every missing topic of the catalog (safe to re-run)."""

    async def run() -> list[str]:
        kafka = KafkaSettings()
        admin = AIOKafkaAdminClient(**client_kwargs(kafka))
        await admin.start()
        try:
            return await ensure_topics(admin, kafka.topic_namespace)
        finally:
            await admin.close()

    created = asyncio.run(run())
    console.print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))


def main() -> None:
    app()
