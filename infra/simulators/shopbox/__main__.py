"""`python -m infra.simulators.shopbox --port 8101 --token t --seed demo_shop.json ...`"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import uvicorn

from infra.simulators.common import add_fault_options, faults_from
from infra.simulators.shopbox.app import create_app
from infra.simulators.shopbox.state import DEMO_SHOP, ShopboxConfig, default_token


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.simulators.shopbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument(
        "--token",
        action="append",
        help="accepted API token (repeatable); default $SHOPBOX_SIM_TOKEN or the dev token",
    )
    parser.add_argument("--seed", type=Path, default=DEMO_SHOP, help="fixture JSON to load")
    parser.add_argument("--empty", action="store_true", help="start without any seed")
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("SHOPBOX_SIM_WEBHOOK_URL") or None,
        help="push basket events to this URL (default $SHOPBOX_SIM_WEBHOOK_URL)",
    )
    parser.add_argument(
        "--first-basket-uid",
        type=int,
        # Real basket uids never repeat; a restarted simulator must not reuse earlier ones,
        # or a pipeline whose Kafka history outlives the simulator would see old sales again.
        default=int(time.time() * 1000),
        help="uid of the first basket rung up (default: derived from the clock)",
    )
    parser.add_argument("--webhook-secret", help="sent as ?shopbox_hook_id=<secret>")
    add_fault_options(parser, rate_limit=None)
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> ShopboxConfig:
    config = ShopboxConfig(
        tokens=tuple(args.token or [default_token()]),
        seed=None if args.empty else args.seed,
        webhook_url=args.webhook_url,
        faults=faults_from(args),
    )
    if args.webhook_secret:
        config.webhook_secret = args.webhook_secret
    return config


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    app, state = create_app(config_from(args))
    state.shop.next_basket_uid = args.first_basket_uid
    print(
        f"Shopbox simulator on http://{args.host}:{args.port}/api/v3 "
        f"({len(state.shop.products)} products, {len(state.shop.branches)} branches)"
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
