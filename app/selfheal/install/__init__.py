"""Installation: when the App is installed on repositories, migrate selfheal's labels there
(also run by the operator with ``selfheal labels``)."""

from __future__ import annotations

from selfheal.install.events import ensure_labels, router
from selfheal.install.labels import Migration, migrate_labels
from selfheal.runtime.context import Feature

__all__ = ["Migration", "ensure_labels", "feature", "migrate_labels"]


def feature() -> Feature:
    return Feature("install", router=router)
