"""Shopbox API v3 simulator: `create_app(config) -> (app, state)`; run with
`python -m infra.simulators.shopbox`. Shapes follow reference/apis.md §2/§4.2 and the addendum A;
best guesses for what is still UNCONFIRMED are listed in infra/simulators/README.md.
"""

from infra.simulators.shopbox.app import create_app
from infra.simulators.shopbox.state import DEMO_SHOP, DEV_TOKEN, ShopboxConfig, ShopboxState

__all__ = ["DEMO_SHOP", "DEV_TOKEN", "ShopboxConfig", "ShopboxState", "create_app"]
