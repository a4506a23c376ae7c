"""Coding agents: the operator's named coder configurations, and how a request picks one.

A coding agent is an entry in the **server's** settings: an id (``coding_agent``) mapped to a
backend, a model and limits. The operator owns the list. A repository picks one of them
(``requests.coder`` in ``.github/selfheal.yml``) and may tighten its limits; a request picks
one with a ``selfheal:agent/<id>`` label, among those the repository allows
(``requests.allowed_agents``). Neither can add an agent or loosen a limit.

Pure values and one pure function, :func:`choose_agent`; nothing here reads settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from selfheal.coder.interface import Limits

AGENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
RULES_AGENT_ID = "rules"
RULES_BACKEND = "rules"


class AgentChoiceError(ValueError):
    """A choice that the operator's agents do not allow; the message says why."""


@dataclass(frozen=True, slots=True)
class CodingAgent:
    """One operator-defined agent. An agent with a ``model`` needs a model API key."""

    id: str
    backend: str
    model: str = ""
    limits: Limits = field(default_factory=Limits)
    options: Mapping[str, object] = field(default_factory=dict)  # the backend's, operator-owned

    def __post_init__(self) -> None:
        if not AGENT_ID.match(self.id):
            raise ValueError(f"agent id {self.id!r} must be 1-40 of A-Z a-z 0-9 _ . -")
        if not self.backend:
            raise ValueError(f"agent {self.id!r} names no backend")

    @property
    def needs_model_key(self) -> bool:
        return bool(self.model)


RULES_AGENT = CodingAgent(RULES_AGENT_ID, RULES_BACKEND)


@dataclass(frozen=True)
class AgentCatalog:
    """The operator's agents by id, and the default one."""

    agents: Mapping[str, CodingAgent]
    default: str

    def __post_init__(self) -> None:
        for key, agent in self.agents.items():
            if key != agent.id:
                raise ValueError(f"agent listed as {key!r} has the id {agent.id!r}")
        if self.default not in self.agents:
            raise ValueError(f"the default agent {self.default!r} is not one of the agents")


def builtin_catalog() -> AgentCatalog:
    """The catalogue when the operator defines none: the ``rules`` agent alone."""
    return AgentCatalog({RULES_AGENT_ID: RULES_AGENT}, RULES_AGENT_ID)


@dataclass(frozen=True, slots=True)
class RepoAgentChoice:
    """What a repository's config says: the agent it picks (None: the operator's default),
    the agents a request label may pick (empty: any of the operator's), and its limits (None:
    no opinion). Its limits can only tighten the agent's."""

    agent: str | None = None
    allowed: tuple[str, ...] = ()
    budget_usd: float | None = None
    max_turns: int | None = None
    wall_clock_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class AgentChoice:
    agent: CodingAgent
    source: str  # "request", "repository" or "operator default"
    notes: tuple[str, ...] = ()


def _limits(agent: CodingAgent, repo: RepoAgentChoice) -> tuple[Limits, list[str]]:
    base = agent.limits
    notes: list[str] = []
    wanted = {
        "budget_usd": repo.budget_usd,
        "max_turns": repo.max_turns,
        "wall_clock_seconds": repo.wall_clock_seconds,
    }
    values: dict[str, float] = {}
    for name, value in wanted.items():
        current = getattr(base, name)
        if value is None or value == current:
            values[name] = current
        elif value < current:
            values[name] = value
        else:
            values[name] = current
            notes.append(
                f"the repository's {name} {value:g} is above agent {agent.id!r}'s {current:g}; "
                "a repository can only tighten a limit, so the agent's applies"
            )
    try:
        limits = Limits(
            values["budget_usd"], int(values["max_turns"]), values["wall_clock_seconds"]
        )
    except ValueError as exc:
        raise AgentChoiceError(f"the repository's limits: {exc}") from None
    return limits, notes


def _known(catalog: AgentCatalog, agent_id: str, who: str) -> CodingAgent:
    agent = catalog.agents.get(agent_id)
    if agent is None:
        known = ", ".join(sorted(catalog.agents))
        raise AgentChoiceError(
            f"{who} picks agent {agent_id!r}, which is not one of the operator's agents "
            f"({known}); only the operator can add one"
        )
    return agent


def choose_agent(
    catalog: AgentCatalog,
    repo: RepoAgentChoice,
    requested: str | None = None,
    *,
    model_key_configured: bool,
) -> AgentChoice:
    """The agent a request runs with, and its effective limits.

    The request's pick (a label) wins over the repository's, which wins over the operator's
    default. Every pick must be one of the operator's agents; a request's pick must also be
    one the repository allows. An explicit pick that needs a model key when none is
    configured is an error; the operator's default falls back to the ``rules`` agent then.
    """
    notes: list[str] = []
    if requested is not None:
        agent = _known(catalog, requested, "the request")
        if repo.allowed and requested not in repo.allowed:
            raise AgentChoiceError(
                f"the request picks agent {requested!r}, which the repository does not allow "
                f"(requests.allowed_agents: {', '.join(repo.allowed)})"
            )
        source = "request"
    elif repo.agent is not None:
        agent = _known(catalog, repo.agent, "the repository")
        source = "repository"
    else:
        agent = catalog.agents[catalog.default]
        source = "operator default"
        if agent.needs_model_key and not model_key_configured:
            fallback = next(
                (a for a in catalog.agents.values() if a.backend == RULES_BACKEND and not a.model),
                RULES_AGENT,
            )
            notes.append(
                f"no model key is configured, so the default agent {agent.id!r} cannot run; "
                f"using the {fallback.id!r} agent"
            )
            agent = fallback
    if agent.needs_model_key and not model_key_configured:
        raise AgentChoiceError(
            f"agent {agent.id!r} uses the model {agent.model!r}, but no model key is configured"
        )
    unknown = [a for a in repo.allowed if a not in catalog.agents]
    if unknown:
        notes.append(
            "requests.allowed_agents names agents the operator has not defined: "
            + ", ".join(unknown)
        )
    limits, limit_notes = _limits(agent, repo)
    notes += limit_notes
    effective = CodingAgent(agent.id, agent.backend, agent.model, limits, agent.options)
    return AgentChoice(effective, source, tuple(notes))
