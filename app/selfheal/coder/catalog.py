"""The operator's coding agents as a catalogue, built from the server settings.

Without ``SELFHEAL_CODING_AGENTS`` the catalogue holds the ``rules`` agent and an
``anthropic`` agent on the default model; the ``anthropic`` one is the default, and
:func:`~selfheal.coder.agents.choose_agent` falls back to ``rules`` while no model key is
configured. An agent's missing limits take the coder's defaults, and its budget the
operator's (``SELFHEAL_BUDGET_USD``).
"""

from __future__ import annotations

from selfheal.coder.agents import RULES_AGENT_ID, RULES_BACKEND, AgentCatalog, CodingAgent
from selfheal.coder.anthropic_coder import DEFAULT_MODEL
from selfheal.coder.anthropic_coder import NAME as ANTHROPIC
from selfheal.coder.interface import DEFAULT_MAX_TURNS, DEFAULT_WALL_CLOCK_SECONDS, Limits
from selfheal.config.coding import AgentSetting, CodingSettings


def agent_from(setting: AgentSetting, coding: CodingSettings) -> CodingAgent:
    limits = Limits(
        min(setting.budget_usd or coding.budget_usd, coding.budget_ceiling_usd),
        setting.max_turns or DEFAULT_MAX_TURNS,
        setting.wall_clock_seconds or DEFAULT_WALL_CLOCK_SECONDS,
    )
    return CodingAgent(setting.id, setting.backend, setting.model, limits, setting.options)


def catalog_from(coding: CodingSettings) -> AgentCatalog:
    """The catalogue the operator's settings define (see the module docstring)."""
    if coding.agents and coding.default_agent:
        agents = {s.id: agent_from(s, coding) for s in coding.agents}
        return AgentCatalog(agents, coding.default_agent)
    budget = Limits(budget_usd=coding.budget_usd)
    agents = {
        RULES_AGENT_ID: CodingAgent(RULES_AGENT_ID, RULES_BACKEND, limits=budget),
        ANTHROPIC: CodingAgent(ANTHROPIC, ANTHROPIC, DEFAULT_MODEL, budget),
    }
    return AgentCatalog(agents, ANTHROPIC)
