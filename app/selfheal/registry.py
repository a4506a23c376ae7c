"""The composition root: the feature packages, composed for the runtime.

Like datasette's list of default plugins, :data:`FEATURES` names what selfheal runs, in one
place. Each feature package hands over a :class:`~selfheal.runtime.context.Feature` (its
router, its job kinds and their dead-letter hooks); :func:`compose` merges them, with any
``SELFHEAL_PLUGINS`` modules, into the :class:`~selfheal.runtime.context.Wiring` the worker
runs. The wiring between features is written here too: the gate re-runs on the bot's PRs
when the halt feature says a halt started or ended. Nothing registers itself by being
imported, and the runtime never imports a feature.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence

from gidgethub import routing

from selfheal import (
    api,
    changes,
    commands,
    dashboard,
    gate,
    halt,
    install,
    monitor,
    notify,
    webui,
)
from selfheal.ledger.jobs import DeadLetterHook
from selfheal.runtime.context import Feature, JobHandler, Wiring

FEATURES: tuple[Callable[[], Feature], ...] = (
    lambda: gate.feature(on_complete=(changes.on_gate_complete,)),
    lambda: halt.feature(on_change=(gate.rerun_bot_gates, changes.on_halt_change)),
    install.feature,
    lambda: commands.feature(extra=changes.COMMANDS),
    changes.feature,
    notify.feature,
    lambda: dashboard.feature(commands=changes.COMMANDS, sections=(monitor.dashboard_section,)),
    monitor.feature,
    lambda: api.feature(sink=monitor.event_sink),
    webui.feature,  # after the API: its buttons run the API's operations
)


class WiringError(ValueError):
    """Two features claim one job kind, or a plugin does not provide a feature."""


def _merge(
    features: Sequence[Feature],
) -> tuple[dict[str, JobHandler], dict[str, DeadLetterHook]]:
    kinds: dict[str, JobHandler] = {}
    hooks: dict[str, DeadLetterHook] = {}
    owner: dict[str, str] = {}
    for feature in features:
        for kind, handler in feature.job_kinds.items():
            if kind in owner:
                raise WiringError(
                    f"job kind {kind!r} is claimed by {owner[kind]} and {feature.name}"
                )
            owner[kind] = feature.name
            kinds[kind] = handler
        hooks.update(feature.dead_letter)
    return kinds, hooks


def compose(features: Iterable[Feature] | None = None) -> Wiring:
    """The wiring of ``features`` (default: every feature in :data:`FEATURES`)."""
    chosen = list(features) if features is not None else [make() for make in FEATURES]
    kinds, hooks = _merge(chosen)
    router = routing.Router(*(feature.router for feature in chosen))
    web = tuple(feature.web for feature in chosen if feature.web is not None)
    return Wiring(dispatchers=(router.dispatch,), job_kinds=kinds, dead_letter=hooks, web=web)


def load_plugin(name: str) -> Feature:
    """The :class:`Feature` a ``SELFHEAL_PLUGINS`` module provides as ``FEATURE``."""
    module = importlib.import_module(name)
    feature = getattr(module, "FEATURE", None)
    if not isinstance(feature, Feature):
        raise WiringError(f"plugin {name!r} has no FEATURE (a selfheal.runtime.context.Feature)")
    return feature


def compose_with_plugins(plugins: Sequence[str]) -> Wiring:
    """The default features and then each plugin's, in the order given."""
    features = [make() for make in FEATURES]
    features.extend(load_plugin(name) for name in plugins)
    return compose(features)
