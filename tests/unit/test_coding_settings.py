"""The operator's coding settings: agents, prices, budgets and the model key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfheal.config.coding import CodingSettingsError, parse_coding_settings

AGENTS = {
    "default": "coding_agent",
    "agents": {
        "coding_agent": {"backend": "anthropic", "model": "claude-sonnet-4-5",
                         "budget_usd": 4, "max_turns": 30, "options": {"max_tokens": 2048}},
        "rules": {"backend": "rules"},
    },
}  # fmt: skip


def test_agents_inline_or_from_a_yaml_file(tmp_path: Path) -> None:
    inline = parse_coding_settings({"SELFHEAL_CODING_AGENTS": json.dumps(AGENTS)})
    path = tmp_path / "agents.yml"
    path.write_text(
        "default: rules\nagents:\n  rules: {backend: rules}\n"
        "  quick: {backend: anthropic, model: claude-haiku-4-5}\n"
    )
    from_file = parse_coding_settings({"SELFHEAL_CODING_AGENTS": str(path)})
    agent = inline.agents[0]
    assert (agent.id, agent.model, agent.budget_usd, agent.max_turns) == (
        "coding_agent", "claude-sonnet-4-5", 4, 30,
    )  # fmt: skip
    assert agent.options == {"max_tokens": 2048} and inline.default_agent == "coding_agent"
    assert [a.id for a in from_file.agents] == ["rules", "quick"]
    assert from_file.default_agent == "rules"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SELFHEAL_CODING_AGENTS": '{"agents": {"a": {"backend": "anthropic", "model": "x-9"}}}'},
         "has no price"),
        ({"SELFHEAL_CODING_AGENTS": '{"agents": {"a": {"backend": "rules", "command": "sh"}}}'},
         "unknown keys command"),
        ({"SELFHEAL_CODING_AGENTS": '{"default": "b", "agents": {"a": {"backend": "rules"}}}'},
         "default must name"),
        ({"SELFHEAL_CODING_AGENTS": '{"agents": {"a": {"backend": "rules", "budget_usd": 99}}}'},
         "above SELFHEAL_BUDGET_CEILING_USD"),
        ({"SELFHEAL_CODING_AGENTS": "/nonexistent/agents.yml"}, "cannot read"),
        ({"SELFHEAL_CODING_AGENTS": "{not json"}, "not valid JSON"),
        ({"SELFHEAL_BUDGET_USD": "30"}, "above SELFHEAL_BUDGET_CEILING_USD"),
        ({"SELFHEAL_BUDGET_CEILING_USD": "-1"}, "more than 0"),
        ({"SELFHEAL_PRICES": '{"models": {"m": {"input": 1}}}'}, "output"),
        ({"ANTHROPIC_BASE_URL": "file:///etc"}, "http"),
    ],
)  # fmt: skip
def test_bad_coding_settings_are_refused_with_the_variable_named(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(CodingSettingsError, match=message):
        parse_coding_settings(env)


def test_operator_prices_price_a_new_model_and_the_key_never_prints() -> None:
    rates = {"input": 1, "output": 2, "cache_write_5m": 1, "cache_write_1h": 1, "cache_read": 0}
    env = {
        "SELFHEAL_PRICES": json.dumps({"models": {"house-model": rates}}),
        "SELFHEAL_CODING_AGENTS": '{"agents": {"h": {"backend": "anthropic", '
        '"model": "house-model"}}}',
        "ANTHROPIC_API_KEY": "sk-ant-secret-value",
    }
    settings = parse_coding_settings(env)
    assert settings.prices.price_of("house-model") is not None
    assert settings.model_key_configured
    assert "sk-ant-secret-value" not in repr(settings)
    assert settings.budget_usd == 5.0 and settings.budget_ceiling_usd == 25.0


def test_the_server_settings_carry_the_coding_settings_and_mask_the_key(tmp_path: Path) -> None:
    from selfheal.config.settings import SettingsError, parse_settings
    from selfheal.runtime.logs import add_secret_values, mask
    from tests.support.appcore import base_env

    key = "sk-ant-api03-" + "k" * 40
    settings = parse_settings(base_env(tmp_path / "x.db", ANTHROPIC_API_KEY=key))
    assert settings.coding.model_key_configured and key in settings.secret_values()
    assert key not in repr(settings) and key not in str(settings)
    add_secret_values(settings.secret_values())  # what selfheal serve does at start-up
    assert key not in mask(f"calling with {key}")
    with pytest.raises(SettingsError, match="SELFHEAL_BUDGET_USD"):
        parse_settings(base_env(tmp_path / "x.db", SELFHEAL_BUDGET_USD="nope"))
