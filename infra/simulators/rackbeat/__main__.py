"""`python -m infra.simulators.rackbeat --port 8102 --token T [--seed demo.json] ...`"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import uvicorn

from infra.simulators.common import add_fault_options, faults_from
from infra.simulators.rackbeat.app import create_app
from infra.simulators.rackbeat.state import RackbeatConfig, default_tokens


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.simulators.rackbeat", description="Rackbeat API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="accepted bearer token (repeatable); default RACKBEAT_SIM_TOKEN "
        "(comma-separated) or the dev token",
    )
    parser.add_argument("--account-id", type=int, default=1)
    parser.add_argument(
        "--seed", type=Path, help="seed JSON (see infra/simulators/rackbeat/seed.py)"
    )
    # Rackbeat's own limit is on unless told otherwise ($RACKBEAT_SIM_RATE_LIMIT or 480).
    add_fault_options(parser, rate_limit=int(os.environ.get("RACKBEAT_SIM_RATE_LIMIT", "480")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = RackbeatConfig(
        tokens=args.tokens or default_tokens(),
        account_id=args.account_id,
        faults=faults_from(args),
        seed=json.loads(args.seed.read_text(encoding="utf-8")) if args.seed else None,
    )
    app, _ = create_app(config)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
