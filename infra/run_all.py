"""Starts the simulators, the services and the dashboard as child processes, in the foreground.

- Demo mode (default): the simulators with the demo shop, a fresh topic namespace per run (the
  earlier runs' topics are deleted), the initial sync, then the services. The demo's settings
  are written to `.state/demo.env` so that `syncctl` in another terminal sees the same pipeline
  (`source .state/demo.env`).
- `--live`: no simulators; the services use the real APIs configured in `.env`.
- A service that exits is restarted with backoff, like compose's `restart: unless-stopped`: kill one
  to restart it, and the rest of the pipeline keeps running (its consumers resume from offsets).
- Ctrl-C or SIGTERM stops the services first (SIGTERM, so in-flight records finish and commit),
  then the simulators. The simulators run in their own session so a terminal's Ctrl-C reaches
  them only through this order.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from infra.processes import DEMO_ENV, DEMO_NAMESPACE_PREFIX, SERVICES, SIMULATORS, Process

REPO = Path(__file__).resolve().parents[1]
DEMO_ENV_FILE = REPO / ".state" / "demo.env"
MAX_BACKOFF_S = 30.0


def _pump(name: str, stream: object) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:>16} | {line}")
        sys.stdout.flush()


@dataclass
class Child:
    proc: Process
    env: dict[str, str]
    popen: subprocess.Popen[str] | None = None
    restarts: int = 0
    backoff_s: float = 1.0
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def is_simulator(self) -> bool:
        return self.proc in SIMULATORS

    def start(self) -> None:
        self.popen = subprocess.Popen(  # noqa: S603 - argv from our own process table
            self.proc.argv(sys.executable),
            cwd=REPO,
            env={**self.env, "HTTP_PORT": str(self.proc.port), **self.proc.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=self.is_simulator,
        )
        self.started_at = time.monotonic()
        threading.Thread(
            target=_pump, args=(self.proc.name, self.popen.stdout), daemon=True
        ).start()

    def wait_up(self, timeout_s: float = 60) -> bool:
        path = "/_control/faults" if self.is_simulator else "/health/live"
        url = f"http://127.0.0.1:{self.proc.port}{path}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.popen is not None and self.popen.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return True
            except OSError:
                time.sleep(0.2)
        return False

    def supervise(self) -> None:
        """Restart an exited service with backoff (reset after a minute of healthy running)."""
        assert self.popen is not None
        code = self.popen.poll()
        if code is None:
            if time.monotonic() - self.started_at > 60:
                self.backoff_s = 1.0
            return
        now = time.monotonic()
        if self.next_start == 0.0:
            print(
                f"{self.proc.name} exited with {code}; restarting in {self.backoff_s:.0f} s",
                flush=True,
            )
            self.next_start = now + self.backoff_s
            self.backoff_s = min(self.backoff_s * 2, MAX_BACKOFF_S)
        elif now >= self.next_start:
            self.next_start = 0.0
            self.restarts += 1
            self.start()


def _stop(children: list[Child]) -> None:
    """Services first (their in-flight records may still call the APIs), then the simulators."""
    for group in (
        [c for c in children if not c.is_simulator],
        [c for c in children if c.is_simulator],
    ):
        running = [c for c in group if c.popen is not None and c.popen.poll() is None]
        for child in running:
            assert child.popen is not None
            child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for child in running:
            assert child.popen is not None
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{child.proc.name} did not stop within 30 s; killing it", flush=True)
                child.popen.kill()
                child.popen.wait()


def demo_env() -> dict[str, str]:
    namespace = f"{DEMO_NAMESPACE_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}."
    return {**DEMO_ENV, "KAFKA_TOPIC_NAMESPACE": namespace}


def _write_demo_env(extra: dict[str, str]) -> None:
    DEMO_ENV_FILE.parent.mkdir(exist_ok=True)
    lines = ["# Written by make run while the demo runs; `source` it to use syncctl on the demo."]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(extra.items())]
    DEMO_ENV_FILE.write_text("\n".join(lines) + "\n")


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _delete_earlier_demo_topics(env: dict[str, str]) -> None:
    """The earlier demos' topics hold data of simulators that are gone; a failure here only
    leaves them on disk, so it is reported and the demo goes on."""
    done = subprocess.run(
        [sys.executable, "-m", "infra.demo_topics"], cwd=REPO, env=env, check=False
    )
    if done.returncode != 0:
        print("demo: earlier demo topics were not all deleted; carrying on", flush=True)


def _initial_sync(env: dict[str, str]) -> bool:
    """The demo's set-up step, as a merchant would run it once: copy the demo shop's items and
    stock into the (empty, in-memory) Rackbeat simulator before the services start."""
    print("demo: copying the Shopbox demo shop into Rackbeat (syncctl initial-sync)", flush=True)
    for command in (["topics", "create"], ["initial-sync"]):
        done = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "services.syncctl", *command], cwd=REPO, env=env, check=False
        )
        if done.returncode != 0:
            print(f"syncctl {' '.join(command)} failed ({done.returncode})", flush=True)
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--live", action="store_true", help="no simulators: real APIs from .env")
    args = parser.parse_args()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    extra = {} if args.live else demo_env()
    env = {**os.environ, **extra}
    wanted = ([] if args.live else list(SIMULATORS)) + list(SERVICES)
    busy = [p for p in wanted if _port_in_use(p.port)]
    if busy:  # checked before anything is touched: another demo's topics and demo.env stay
        names = ", ".join(f"{p.port} ({p.name})" for p in busy)
        print(f"port in use: {names}; is another `make run` running? Stop it first.", flush=True)
        return 1
    children: list[Child] = []
    try:
        if not args.live:
            _write_demo_env(extra)
        for proc in wanted:
            if proc is SERVICES[0] and not args.live:
                _delete_earlier_demo_topics(env)
                if not _initial_sync(env):
                    return 1
            child = Child(proc, env)
            child.start()
            children.append(child)
            if not child.wait_up():
                print(f"{proc.name} did not come up on port {proc.port}", flush=True)
                return 1
        _print_where_to_look(wanted, extra)
        while not stopping.is_set():
            for child in children:
                if (
                    child.is_simulator
                    and child.popen is not None
                    and child.popen.poll() is not None
                ):
                    print(f"{child.proc.name} exited; the demo cannot go on without it", flush=True)
                    return 1
                if not child.is_simulator:
                    child.supervise()
            stopping.wait(0.5)
        print("stopping...", flush=True)
        return 0
    finally:
        _stop(children)
        DEMO_ENV_FILE.unlink(missing_ok=True)


def _print_where_to_look(processes: list[Process], extra: dict[str, str]) -> None:
    lines = ["", "Everything is up. Where to look:"]
    dashboard = [p for p in processes if p.name == "dashboard"]
    for proc in dashboard + [p for p in processes if p.name != "dashboard"]:
        kind = "simulator" if proc in SIMULATORS else "ops page" if proc in dashboard else "service"
        lines.append(f"  {proc.name:<16} {kind:<10} http://127.0.0.1:{proc.port}")
    if extra:
        lines += [
            f"  topics of this run: namespace {extra['KAFKA_TOPIC_NAMESPACE']}",
            f"  syncctl on this demo: source {DEMO_ENV_FILE.relative_to(REPO)}"
            " && .venv/bin/syncctl status",
        ]
    lines += [
        "  health: /health/ready on each service; a killed service is restarted and resumes",
        "  from its committed offsets.",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
