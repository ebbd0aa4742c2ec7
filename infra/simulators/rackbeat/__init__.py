"""Rackbeat API simulator: a faithful in-memory stand-in for https://app.rackbeat.com/api/.

See infra/simulators/README.md for what is confirmed, what is guessed, and the control surface.
"""

from infra.simulators.rackbeat.app import create_app
from infra.simulators.rackbeat.state import DEV_TOKEN, RackbeatConfig, RackbeatState

__all__ = ["DEV_TOKEN", "RackbeatConfig", "RackbeatState", "create_app"]
