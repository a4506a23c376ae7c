"""A repository's config cannot set what belongs to the operator: a program, an environment
passthrough, a credential, a price, a higher limit or an agent of its own."""

from __future__ import annotations

import pytest

from selfheal.model.repo_config import ConfigError, load_repo_config, operator_only


@pytest.mark.parametrize(
    ("text", "pointer", "line"),
    [
        ("requests:\n  coder: local\n  command: ['claude', '-p']\n", "/requests/command", 3),
        ("requests:\n  env_passthrough: [GITHUB_TOKEN]\n", "/requests/env_passthrough", 2),
        ("requests:\n  environment: {A: b}\n", "/requests/environment", 2),
        ("prices:\n  claude-sonnet-4-5: {input: 0}\n", "/prices", 1),
        ("budget:\n  ceiling_usd: 100\n", "/budget/ceiling_usd", 2),
        ("budget:\n  max_budget_usd: 100\n", "/budget/max_budget_usd", 2),
        ("agents:\n  mine: {backend: command}\n", "/agents", 1),
        ("requests:\n  api_key: sk-ant-x\n", "/requests/api_key", 2),
    ],
)
def test_operator_only_keys_are_rejected_with_the_key_and_line(
    text: str, pointer: str, line: int
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_repo_config(text)
    message = str(raised.value)
    assert pointer in message and f"line {line}" in message
    assert "operator-only" in message and "SELFHEAL_CODING_AGENTS" in message


def test_choosing_and_tightening_is_allowed_and_a_typo_stays_a_warning() -> None:
    config = load_repo_config(
        "budget:\n  per_request_usd: 2\nrequests:\n  coder: quick\n  allowed_agents: [quick]\n"
        "  max_turns: 10\n  wall_clock_seconds: 120\n  colour: blue\n"
    )
    assert config.budget.per_request_usd == 2 and config.requests.coder == "quick"
    assert (config.requests.max_turns, config.requests.wall_clock_seconds) == (10, 120.0)
    assert any("/requests/colour" in w for w in config.warnings)


def test_the_operator_only_words_do_not_catch_the_schema_s_own_keys() -> None:
    from selfheal.model.repo_config import schema

    def keys(node: dict[str, object]) -> list[str]:
        found: list[str] = []
        for name, sub in node.get("properties", {}).items():  # type: ignore[attr-defined]
            found.append(name)
            if isinstance(sub, dict):
                found += keys(sub)
        return found

    assert [k for k in keys(schema()) if operator_only(k)] == []
    assert operator_only("Command") and operator_only("pass-through-env")
