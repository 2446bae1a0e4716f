"""Notifications after a run: each department told about its own changes, the security office about all.

The agent calls :func:`send_for_run` after every run; ``civiscan notify``
calls it for a stored run. Format, channels and guarantees: docs/notifications.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import NotifyConfig, load_config
    from .send import Delivery, DeliveryReport, send_for_run

_EXPORTS = {
    "NotifyConfig": "config",
    "load_config": "config",
    "Delivery": "send",
    "DeliveryReport": "send",
    "send_for_run": "send",
}


def __getattr__(name: str) -> Any:
    # The inventory imports scanner.notify.contacts: loading the sending side (the store,
    # the reports) on that path would import the inventory back while it is half-made.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["Delivery", "DeliveryReport", "NotifyConfig", "load_config", "send_for_run"]
