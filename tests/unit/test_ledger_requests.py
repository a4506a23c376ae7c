"""Change requests in the ledger: one per issue, moves checked against the current state,
every transition recorded and audited with the cost so far."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.ledger import Ledger, audit, requests


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.db") as led:
        yield led


def test_one_request_per_issue_with_an_unguessable_id(ledger: Ledger) -> None:
    first, created = ledger.write(
        lambda c: requests.create_request(
            c, "Acme/Tools", 7, requester="alice", change_type="dependency", priority=9,
            targets=["requirements.txt"], now=100.0,
        )
    )  # fmt: skip
    again, created_again = ledger.write(
        lambda c: requests.create_request(c, "acme/tools", 7, requester="mallory")
    )
    assert created and not created_again and again == first
    assert re.fullmatch(r"req_[A-Za-z0-9_-]{16}", first.id)
    other, _ = ledger.write(lambda c: requests.create_request(c, "acme/tools", 8, requester="bob"))
    assert other.id != first.id
    assert first.state == "received" and first.targets == ("requirements.txt",)
    assert first.requester == "alice" and first.budget_usd == 5.0 and first.cost_usd == 0.0
    entries = ledger.read(lambda c: audit.entries(c, action="request.created"))
    assert sorted(e.request or 0 for e in entries) == [7, 8]


def test_moves_are_checked_recorded_and_audited(ledger: Ledger) -> None:
    request, _ = ledger.write(lambda c: requests.create_request(c, "acme/tools", 7, requester="a"))
    ledger.write(lambda c: requests.add_cost(c, request.id, 0.25))
    moved = ledger.write(
        lambda c: requests.move(c, request.id, "received", "reviewing", event="review",
                                actor="selfheal", reason="policy check")
    )  # fmt: skip
    assert moved.state == "reviewing"
    with pytest.raises(requests.StaleState, match="is reviewing, not received"):
        ledger.write(
            lambda c: requests.move(c, request.id, "received", "queued", event="x", actor="y")
        )
    with pytest.raises(requests.StaleState, match="missing"):
        ledger.write(lambda c: requests.move(c, "req_nope", "a", "b", event="x", actor="y"))
    steps = ledger.read(lambda c: requests.transitions(c, request.id))
    assert [(s.from_state, s.to_state, s.event) for s in steps] == [
        (None, "received", "created"),
        ("received", "reviewing", "review"),
    ]
    assert steps[1].cost_usd == 0.25 and steps[1].actor == "selfheal"
    (entry,) = ledger.read(lambda c: audit.entries(c, action="request.state"))
    assert entry.request == 7 and entry.repository == "acme/tools"
    assert entry.details["cost_usd"] == 0.25 and entry.details["reason"] == "policy check"
    assert ledger.read(audit.verify).ok


def test_updates_costs_and_listing(ledger: Ledger) -> None:
    a, _ = ledger.write(lambda c: requests.create_request(c, "acme/x", 1, requester="al", now=1))
    b, _ = ledger.write(lambda c: requests.create_request(c, "acme/y", 2, requester="bo", now=2))
    updated = ledger.write(
        lambda c: requests.update(c, a.id, branch="selfheal/1-x", pr_number=5,
                                  targets=["a.py"], data={"plan": ["a.py"]})
    )  # fmt: skip
    assert updated.branch == "selfheal/1-x" and updated.pr_number == 5
    assert updated.targets == ("a.py",) and updated.data == {"plan": ["a.py"]}
    with pytest.raises(ValueError, match="not updatable: state"):
        ledger.write(lambda c: requests.update(c, a.id, state="merged"))
    with pytest.raises(ValueError):
        ledger.write(lambda c: requests.add_cost(c, a.id, -1))
    assert ledger.write(lambda c: requests.add_cost(c, b.id, 1.5)) == 1.5
    assert ledger.write(lambda c: requests.add_cost(c, b.id, 0.5)) == 2.0
    newest = ledger.read(lambda c: requests.find(c))
    assert [r.id for r in newest] == [b.id, a.id]
    assert [r.id for r in ledger.read(lambda c: requests.find(c, repository="ACME/x"))] == [a.id]
    assert ledger.read(lambda c: requests.find(c, states=["merged"])) == []
    assert [r.id for r in ledger.read(lambda c: requests.find(c, requester="bo"))] == [b.id]
    assert [r.id for r in ledger.read(lambda c: requests.find(c, limit=1, offset=1))] == [a.id]


def test_a_request_is_found_by_its_revert_pull_request_and_its_type_updates(
    ledger: Ledger,
) -> None:
    first, _ = ledger.write(lambda c: requests.create_request(c, "acme/tools", 7, requester="a"))
    other, _ = ledger.write(lambda c: requests.create_request(c, "acme/tools", 8, requester="b"))
    ledger.write(lambda c: requests.update(c, first.id, data={"revert": {"pr": 12}}))
    ledger.write(lambda c: requests.update(c, other.id, pr_number=12, change_type="security"))
    found = ledger.read(lambda c: requests.find_by_revert_pr(c, "ACME/tools", 12))
    assert found is not None and found.id == first.id
    assert ledger.read(lambda c: requests.find_by_revert_pr(c, "acme/tools", 13)) is None
    assert ledger.read(lambda c: requests.find_by_revert_pr(c, "acme/other", 12)) is None
    updated = ledger.read(lambda c: requests.get(c, other.id))
    assert updated is not None and updated.change_type == "security"
