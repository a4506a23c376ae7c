"""Choosing a request's coding agent and budget (plain values), the budget command's
argument, and the spend kept per call in the ledger across a restart."""

from __future__ import annotations

import asyncio
import functools
import json
import types
from pathlib import Path

import pytest

from selfheal.changes import agents
from selfheal.changes.agents import AgentRefused, choose, request_budget
from selfheal.changes.commands import budget_amount
from selfheal.coder.catalog import catalog_from
from selfheal.config.coding import CodingSettings, parse_coding_settings
from selfheal.ledger import Ledger, audit, requests, spend
from selfheal.model.repo_config import load_repo_config

AGENTS = json.dumps({
    "default": "coding_agent",
    "agents": {
        "coding_agent": {"backend": "anthropic", "model": "claude-sonnet-4-5", "max_turns": 30},
        "quick": {"backend": "anthropic", "model": "claude-haiku-4-5", "budget_usd": 2},
        "rules": {"backend": "rules"},
    },
})  # fmt: skip


def settings(key: bool = True, **extra: str) -> CodingSettings:
    env = {"SELFHEAL_CODING_AGENTS": AGENTS, **extra}
    if key:
        env["ANTHROPIC_API_KEY"] = "sk-ant-test"
    return parse_coding_settings(env)


def test_the_label_then_the_repository_then_the_operator_default() -> None:
    coding = settings()
    config = load_repo_config("requests:\n  coder: rules\n")
    assert choose(coding, config, None).agent.id == "rules"
    assert choose(coding, config, "quick").agent.id == "quick"
    picked = choose(coding, load_repo_config(None), None)
    assert picked.agent.id == "coding_agent" and picked.source == "operator default"
    assert picked.agent.model == "claude-sonnet-4-5" and picked.agent.limits.max_turns == 30
    assert picked.agent.limits.budget_usd == 5.0  # the operator's budget


def test_a_repository_tightens_limits_and_cannot_raise_the_budget() -> None:
    coding = settings()
    tight = load_repo_config("budget:\n  per_request_usd: 1.5\nrequests:\n  max_turns: 5\n")
    agent = choose(coding, tight, None).agent
    assert (agent.limits.budget_usd, agent.limits.max_turns) == (1.5, 5)
    with pytest.raises(AgentRefused, match="can only lower it"):
        choose(coding, load_repo_config("budget:\n  per_request_usd: 50\n"), None)


@pytest.mark.parametrize(
    ("text", "label", "key", "message"),
    [
        ("", "mine", True, "not one of the operator's agents"),
        ("requests:\n  allowed_agents: [rules]\n", "quick", True, "does not allow"),
        ("requests:\n  coder: nobody\n", None, True, "not one of the operator's agents"),
        ("", "quick", False, "no model key is configured"),
    ],
)
def test_a_choice_the_operator_does_not_allow_is_refused_with_the_reason(
    text: str, label: str | None, key: bool, message: str
) -> None:
    with pytest.raises(AgentRefused, match=message):
        choose(settings(key=key), load_repo_config(text), label)


def test_without_a_key_the_default_falls_back_to_rules() -> None:
    picked = choose(settings(key=False), load_repo_config(None), None)
    assert picked.agent.id == "rules" and picked.notes


def test_the_built_in_catalogue_offers_rules_and_anthropic() -> None:
    catalog = catalog_from(parse_coding_settings({"SELFHEAL_BUDGET_USD": "3"}))
    assert sorted(catalog.agents) == ["anthropic", "rules"] and catalog.default == "anthropic"
    assert catalog.agents["anthropic"].limits.budget_usd == 3.0


def test_extensions_add_to_the_budget_up_to_the_ceiling() -> None:
    assert request_budget(5, 0, 25) == 5
    assert request_budget(5, 5, 25) == 10
    assert request_budget(5, 50, 25) == 25
    assert request_budget(5, -3, 25) == 5


@pytest.mark.parametrize(
    ("args", "amount"),
    [("+5", 5.0), ("+ 2.50", 2.5), ("+$3", 3.0), ("5", None), ("+0", None), ("-5", None),
     ("+1e9", None), ("+5 more", None), ("", None), ("+1.234", None)],
)  # fmt: skip
def test_the_budget_command_takes_plus_n_dollars(args: str, amount: float | None) -> None:
    assert budget_amount(args) == amount


def test_every_call_s_spend_survives_a_restart_and_is_audited(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with Ledger.open(db) as ledger:
        request, _ = ledger.write(
            lambda c: requests.create_request(c, "acme/widgets", 7, requester="alice")
        )
        for cost in (0.25, 0.125):
            call = spend.Call(request.id, "coding_agent", "claude-sonnet-4-5", 1000, 200,
                              10, 20, 30, cost, 1.0)  # fmt: skip
            ledger.write(functools.partial(spend.record_call, call=call))
    with Ledger.open(db) as ledger:
        fresh = ledger.read(lambda c: requests.get(c, request.id))
        rows = ledger.read(lambda c: spend.calls(c, request.id))
        entries = ledger.read(lambda c: audit.entries(c, action="request.spend"))
    assert fresh is not None and fresh.cost_usd == pytest.approx(0.375)
    assert [r.cost_usd for r in rows] == [0.25, 0.125]
    assert rows[0].cache_write_1h == 20 and rows[0].cache_read == 30
    totals = sorted(e.details["total_usd"] for e in entries)
    assert totals == [pytest.approx(0.25), pytest.approx(0.375)]


def test_a_negative_or_unknown_call_is_refused(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        bad = spend.Call("req_missing", "a", "m", 0, 0, 0, 0, 0, 0.1, 1.0)
        with pytest.raises(KeyError):
            ledger.write(lambda c: spend.record_call(c, bad))
        with pytest.raises(ValueError, match="finite"):
            ledger.write(lambda c: spend.record_call(
                c, spend.Call("req_x", "a", "m", 0, 0, 0, 0, 0, -1.0, 1.0)))  # fmt: skip


async def test_the_halt_probe_asks_github_at_most_every_interval_and_fails_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The coder's thread asks between steps; GitHub is asked at most once per interval, a
    halt seen is asked again at every check, and no answer counts as halted."""
    asked: list[str] = []
    state = {"halted": False, "fail": False}

    async def is_halted(ctx: object, repo: str, *, gh: object) -> bool:
        asked.append(repo)
        if state["fail"]:
            raise RuntimeError("GitHub is down")
        return state["halted"]

    monkeypatch.setattr(agents, "is_halted", is_halted)
    now = [100.0]
    run = types.SimpleNamespace(ctx=None, repo="acme/app", gh=None)
    probe = agents.halt_probe(run, asyncio.get_running_loop(), every=2.0,  # type: ignore[arg-type]
                              clock=lambda: now[0])  # fmt: skip

    def ask() -> bool:
        return bool(probe())

    assert await asyncio.to_thread(ask) is False
    now[0] += 1.0
    assert await asyncio.to_thread(ask) is False and len(asked) == 1  # within the interval
    state["halted"] = True
    now[0] += 1.5
    assert await asyncio.to_thread(ask) is True and len(asked) == 2
    now[0] += 0.1
    assert await asyncio.to_thread(ask) is True and len(asked) == 3  # a halt is asked again
    state.update(halted=False, fail=True)
    now[0] += 5.0
    assert await asyncio.to_thread(ask) is True  # no answer: fail closed
