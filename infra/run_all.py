"""Starts the simulators, the four services and the dashboard as child processes, in the
foreground.

Ctrl-C or SIGTERM stops the services first (SIGTERM, so in-flight records finish and commit),
then the simulators. If a child dies on its own, everything is stopped and the exit code says so:
a half-running pipeline is worse than a stopped one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from infra.processes import DEMO_ENV, SERVICES, SIMULATORS, Process

REPO = Path(__file__).resolve().parents[1]


def _pump(name: str, stream: object) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:>16} | {line}")
        sys.stdout.flush()


def _start(proc: Process, extra_env: dict[str, str]) -> subprocess.Popen[str]:
    env = {**os.environ, **extra_env, "HTTP_PORT": str(proc.port), **proc.env}
    child = subprocess.Popen(  # noqa: S603 - argv from our own process table
        proc.argv(sys.executable),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    threading.Thread(target=_pump, args=(proc.name, child.stdout), daemon=True).start()
    return child


def _wait_http(url: str, child: subprocess.Popen[str], timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - fixed local URL
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _stop(children: list[tuple[Process, subprocess.Popen[str]]]) -> None:
    """Services first (their in-flight records may still call the APIs), then the simulators."""
    services = [(p, c) for p, c in children if p not in SIMULATORS]
    simulators = [(p, c) for p, c in children if p in SIMULATORS]
    for group in (services, simulators):
        for _, child in group:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc, child in group:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{proc.name} did not stop within 30 s; killing it", flush=True)
                child.kill()
                child.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-simulators", action="store_true", help="use the real APIs from .env")
    args = parser.parse_args()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    demo = not args.no_simulators
    extra_env = DEMO_ENV if demo else {}
    wanted = (list(SIMULATORS) if demo else []) + list(SERVICES)
    children: list[tuple[Process, subprocess.Popen[str]]] = []
    try:
        for proc in wanted:
            if proc is SERVICES[0] and demo and not _initial_sync(extra_env):
                return 1
            child = _start(proc, extra_env)
            children.append((proc, child))
            path = "/_control/faults" if proc in SIMULATORS else "/health/live"
            if not _wait_http(f"http://127.0.0.1:{proc.port}{path}", child):
                print(f"{proc.name} did not come up on port {proc.port}", flush=True)
                return 1
        _print_where_to_look(wanted)
        while not stopping.is_set():
            for proc, child in children:
                if child.poll() is not None:
                    print(f"{proc.name} exited with {child.returncode}; stopping all", flush=True)
                    return 1
            stopping.wait(0.5)
        print("stopping...", flush=True)
        return 0
    finally:
        _stop(children)


def _initial_sync(extra_env: dict[str, str]) -> bool:
    """The demo's set-up step, as a merchant would run it once: copy the demo shop's items and
    stock into the (empty, in-memory) Rackbeat simulator before the services start."""
    print("demo: copying the Shopbox demo shop into Rackbeat (syncctl initial-sync)", flush=True)
    for command in (["topics", "create"], ["initial-sync"]):
        done = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "services.syncctl", *command],
            cwd=REPO,
            env={**os.environ, **extra_env},
            check=False,
        )
        if done.returncode != 0:
            print(f"syncctl {' '.join(command)} failed ({done.returncode})", flush=True)
            return False
    return True


def _print_where_to_look(processes: list[Process]) -> None:
    lines = ["", "Everything is up. Where to look:"]
    for proc in sorted(processes, key=lambda p: p.name != "dashboard"):  # the dashboard first
        kind = "ops page" if proc.name == "dashboard" else "service"
        kind = "simulator" if proc in SIMULATORS else kind
        lines.append(f"  {proc.name:<16} {kind:<10} http://127.0.0.1:{proc.port}")
    lines += [
        "  health: /health/ready on each service; status: .venv/bin/syncctl status",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
