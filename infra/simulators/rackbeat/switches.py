"""The Rackbeat simulator's switches (see infra/simulators/switches.py and the README)."""

from __future__ import annotations

from infra.simulators.switches import Switch

PREFIX = "RACKBEAT_SIM"

SWITCHES = (
    Switch(
        name="webhook_body",
        choices=("key_only", "item_type", "with_event"),
        evidence="key_only",
        strict="item_type",
        legacy="with_event",
        source=(
            "an integrator's production code: bodies are {key_name, key}, the event only in the "
            "Rackbeat-Webhook-Event header; its stock handler reads {item, item_type, type}"
        ),
    ),
)
