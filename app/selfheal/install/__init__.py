"""Installation: when the App is installed on repositories, create selfheal's labels there."""

from __future__ import annotations

from selfheal.install.events import ensure_labels, router
from selfheal.runtime.context import Feature

__all__ = ["ensure_labels", "feature"]


def feature() -> Feature:
    return Feature("install", router=router)
