"""The coder backends by name: the built-in ``rules``, ``anthropic`` and ``command``, each
imported only when it is built. Kept apart from :mod:`selfheal.coder.interface`, which is
pure (the import contracts check it), since the backends run programs and call APIs."""

from __future__ import annotations

from collections.abc import Mapping

from selfheal.coder.interface import BackendFactory, BackendOptions, Coder


def _rules_backend(options: BackendOptions) -> Coder:
    from selfheal.coder.rules import RulesCoder

    return RulesCoder(options)


def _anthropic_backend(options: BackendOptions) -> Coder:
    from selfheal.coder.anthropic_coder import AnthropicCoder

    return AnthropicCoder(options)


def _command_backend(options: BackendOptions) -> Coder:
    from selfheal.coder.command import command_backend

    return command_backend(options)


def backend_registry(
    extra: Mapping[str, BackendFactory] | None = None,
) -> dict[str, BackendFactory]:
    """The backends by name: the built-in ``rules``, ``anthropic`` and ``command`` backends,
    plus ``extra`` (a name in both is an error, so a plug-in cannot silently replace a
    built-in)."""
    registry: dict[str, BackendFactory] = {
        "rules": _rules_backend,
        "anthropic": _anthropic_backend,
        "command": _command_backend,
    }
    for name, factory in (extra or {}).items():
        if name in registry:
            raise ValueError(f"coder backend {name!r} is already registered")
        registry[name] = factory
    return registry
