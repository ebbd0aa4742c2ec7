"""A consumer process for the restart test: appends each record it handles to a file.

Run: python -m tests.integration.resume_consumer <bootstrap> <topic> <group> <outfile>
It uses the same broker factory and subscriber policy as the services.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from faststream.kafka.annotations import KafkaMessage

from schemas.envelope import Model
from services.common.kafka import make_broker, reliable_subscriber
from services.common.settings import KafkaSettings, RetrySettings


class Numbered(Model):
    n: int


async def main(bootstrap: str, topic: str, group: str, outfile: Path) -> None:
    broker = make_broker(KafkaSettings(bootstrap_servers=bootstrap), client_id="resume-test")

    async def record(event: Numbered, _: KafkaMessage) -> None:
        with outfile.open("a") as out:
            out.write(f"{event.n}\n")

    reliable_subscriber(
        broker, topic, group_id=group, model=Numbered, retry=RetrySettings(), handler=record
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await broker.start()
    outfile.with_suffix(".ready").touch()
    await stop.wait()
    await broker.stop()


if __name__ == "__main__":
    bootstrap, topic, group, out = sys.argv[1:5]
    asyncio.run(main(bootstrap, topic, group, Path(out)))
