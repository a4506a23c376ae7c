"""Coding agents: the operator's named coder configurations, and the pure rule by which a
repository and a request pick one and may tighten, never loosen, its limits."""

from __future__ import annotations

import pytest

from selfheal.coder.agents import (
    RULES_AGENT,
    AgentCatalog,
    AgentChoiceError,
    CodingAgent,
    RepoAgentChoice,
    builtin_catalog,
    choose_agent,
)
from selfheal.coder.interface import Limits

MODEL_AGENT = CodingAgent("coding_agent", "anthropic", "claude-x", Limits(5.0, 40, 600.0))
CHEAP_AGENT = CodingAgent("cheap", "anthropic", "claude-small", Limits(1.0, 10, 300.0))


def operator_catalog(default: str = "coding_agent") -> AgentCatalog:
    agents = {a.id: a for a in (MODEL_AGENT, CHEAP_AGENT, RULES_AGENT)}
    return AgentCatalog(agents, default)


# -- choosing an agent ---------------------------------------------------------------------------


def test_builtin_catalog_is_the_rules_agent() -> None:
    catalog = builtin_catalog()
    choice = choose_agent(catalog, RepoAgentChoice(), model_key_configured=False)
    assert (choice.agent.id, choice.agent.backend, choice.source) == (
        "rules",
        "rules",
        "operator default",
    )


def test_without_a_model_key_the_default_falls_back_to_rules() -> None:
    choice = choose_agent(operator_catalog(), RepoAgentChoice(), model_key_configured=False)
    assert choice.agent.backend == "rules"
    assert "no model key" in choice.notes[0]
    with_key = choose_agent(operator_catalog(), RepoAgentChoice(), model_key_configured=True)
    assert with_key.agent == MODEL_AGENT


def test_request_beats_repository_beats_default() -> None:
    catalog = operator_catalog()
    repo = RepoAgentChoice(agent="rules")
    assert choose_agent(catalog, repo, model_key_configured=True).agent.id == "rules"
    picked = choose_agent(catalog, repo, "cheap", model_key_configured=True)
    assert (picked.agent.id, picked.source) == ("cheap", "request")


def test_a_repository_cannot_add_an_agent() -> None:
    catalog = operator_catalog()
    with pytest.raises(AgentChoiceError, match="only the operator can add one"):
        choose_agent(catalog, RepoAgentChoice(agent="my-own"), model_key_configured=True)
    with pytest.raises(AgentChoiceError, match="not one of the operator's agents"):
        choose_agent(catalog, RepoAgentChoice(), "my-own", model_key_configured=True)


def test_a_request_picks_only_among_the_agents_the_repository_allows() -> None:
    repo = RepoAgentChoice(allowed=("rules", "cheap", "ghost"))
    choice = choose_agent(operator_catalog(), repo, "cheap", model_key_configured=True)
    assert choice.agent.id == "cheap"
    assert any("ghost" in note for note in choice.notes)
    with pytest.raises(AgentChoiceError, match="does not allow"):
        choose_agent(operator_catalog(), repo, "coding_agent", model_key_configured=True)


def test_an_explicit_model_agent_without_a_key_is_an_error() -> None:
    with pytest.raises(AgentChoiceError, match="no model key"):
        choose_agent(operator_catalog(), RepoAgentChoice(agent="cheap"), model_key_configured=False)


def test_a_repository_may_tighten_limits_but_never_loosen_them() -> None:
    repo = RepoAgentChoice(
        agent="coding_agent", budget_usd=2.0, max_turns=100, wall_clock_seconds=60.0
    )
    choice = choose_agent(operator_catalog(), repo, model_key_configured=True)
    assert choice.agent.limits == Limits(2.0, 40, 60.0)  # budget and time tightened, turns kept
    assert choice.agent.model == MODEL_AGENT.model and choice.agent.backend == "anthropic"
    assert len(choice.notes) == 1 and "max_turns 100" in choice.notes[0]
    looser = RepoAgentChoice(agent="cheap", budget_usd=50.0)
    assert (
        choose_agent(operator_catalog(), looser, model_key_configured=True).agent.limits
        == CHEAP_AGENT.limits
    )
    with pytest.raises(AgentChoiceError, match="limits"):
        choose_agent(
            operator_catalog(), RepoAgentChoice(budget_usd=-1.0), model_key_configured=True
        )


def test_catalog_and_agent_validation() -> None:
    with pytest.raises(ValueError, match="default agent"):
        AgentCatalog({"rules": RULES_AGENT}, "missing")
    with pytest.raises(ValueError, match="has the id"):
        AgentCatalog({"other": RULES_AGENT}, "other")
    with pytest.raises(ValueError, match="agent id"):
        CodingAgent("bad id!", "rules")
    assert not RULES_AGENT.needs_model_key and MODEL_AGENT.needs_model_key
