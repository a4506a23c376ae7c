"""The API's pure parts: body schemas naming the field, the issue a request becomes (read back
with the intake, id and all), the OpenAPI document's operations, and the web address."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.api import filing, openapi, schemas
from selfheal.api.handlers import web_base
from selfheal.api.scan import confine
from selfheal.changes import parse_request
from selfheal.changes.service import status_body
from selfheal.ledger import Ledger, requests

ID = "req_abcdefghijklmnop"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x", "change_type": "fix_bug"}, None),
        ({"description": "x", "change_type": "fix-bug", "priority": 10}, None),
        ({"description": "x", "context": {"error": "leak"}, "agent_id": "coding_agent"}, None),
        ({}, "description"),
        ({"description": ""}, "description"),
        ({"description": "x", "priority": 0}, "priority"),
        ({"description": "x", "priority": True}, "priority"),
        ({"description": "x", "target_files": "a.py"}, "target_files"),
        ({"description": "x", "target_files": ["a\nb"]}, "target_files.0"),
        ({"description": "x", "agent_id": "a" * 36}, "agent_id"),
        ({"description": "x", "repository": "not a repo"}, "repository"),
        ({"description": "x", "requester": "x"}, "requester"),
    ],
)
def test_a_request_body_is_checked_and_the_field_named(body: object, field: str | None) -> None:
    problem = schemas.check("CodeRequest", body)
    assert (problem is None) == (field is None), problem
    if problem is not None:
        assert problem[0] == field and problem[1]


def test_events_take_one_object_or_a_list() -> None:
    event = {"source": "test", "test_id": "tests/x.py::t", "endpoint": {"url": "/u"}}
    assert schemas.check("Events", event) is None
    assert schemas.check("Events", [event, event]) is None
    assert schemas.check("Events", []) is not None
    assert schemas.check("Events", {"source": "agent", "endpoint": {"method": "GET"}}) is not None
    late = schemas.check("Event", {"source": "agent", "timestamp": "yesterday"})
    assert late is not None and late[0] == "timestamp"
    assert schemas.check("Event", {"source": "agent", "timestamp": "2026-01-02T03:04:05Z"}) is None


def test_the_issue_is_read_back_by_the_intake_with_the_api_id() -> None:
    ask = filing.Ask(
        "acme/widgets", "Fix the pool leak.\nIt grows.", "dependency", ("requirements.txt",),
        8, "coding_agent", "myca", {"error": "leak"},
    )  # fmt: skip
    issue = filing.compose(ask, ID, "api:orch")
    assert issue.title == "Fix the pool leak."
    assert issue.labels == ("selfheal:request", "selfheal:type/dependency",
                            "selfheal:priority/8", "selfheal:agent/coding_agent")  # fmt: skip
    parsed = parse_request(issue.title, issue.body, issue.labels, app_authored=True)
    assert parsed.request_id == ID and parsed.requester == "api:orch"
    assert parsed.agent == "coding_agent" and parsed.priority == 8
    assert parsed.target_paths == ("requirements.txt",) and '"error": "leak"' in parsed.description
    # Written by anyone but the App, the same body's block is ignored, id and all.
    foreign = parse_request(issue.title, issue.body, (), app_authored=False)
    assert foreign.request_id is None and foreign.requester is None


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        (("../x",), "target_files"),
        ((".git/config",), "target_files"),
        (("a/*.py",), "target_files"),
    ],
)
def test_a_request_the_intake_would_refuse_is_refused_before_filing(
    targets: tuple[str, ...], field: str
) -> None:
    with pytest.raises(filing.Refused) as refused:
        filing.compose(filing.Ask("a/b", "x", target_files=targets), ID, "api:t")
    assert refused.value.field == field


def test_a_forged_request_id_in_the_block_is_refused_by_the_intake() -> None:
    issue = filing.compose(filing.Ask("a/b", "x"), ID, "api:t")
    forged = issue.body.replace(ID, "req_../../etc")
    with pytest.raises(ValueError, match="request_id"):
        parse_request(issue.title, forged, issue.labels, app_authored=True)


def test_the_ledger_keeps_the_given_id_unless_it_is_taken(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        first, _ = ledger.write(lambda c: requests.create_request(c, "a/b", 1, requester="x",
                                                                  request_id=ID))  # fmt: skip
        second, _ = ledger.write(lambda c: requests.create_request(c, "a/b", 2, requester="x",
                                                                   request_id=ID))  # fmt: skip
    assert first.id == ID and second.id != ID and second.id.startswith("req_")


def test_the_status_comment_never_mentions_an_api_requester() -> None:
    request = requests.Request(ID, "a/b", 1, "queued", "api:orch", "api", "fix-bug", 5, None,
                               (), None, None, None, 0.0, 5.0, 0.0, 0.0)  # fmt: skip
    body = status_body(request, "queued", "", [])
    assert "`api:orch`" in body and "@api" not in body
    person = status_body(request.__class__(**{**request.__dict__, "requester": "alice"}),
                         "queued", "", [])  # fmt: skip
    assert "@alice" in person


def test_the_document_lists_every_operation_with_its_security() -> None:
    doc = openapi.document()
    assert doc["openapi"] == "3.1.0"
    for op in openapi.OPERATIONS:
        spec = doc["paths"][op.path][op.method.lower()]
        assert spec["operationId"] == op.id
        assert spec["security"] == ([] if op.scope is None else [{"bearer": []}])
        if op.body:
            ref = spec["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert (
                doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
                is schemas.REQUEST_BODIES[op.body]
            )


@pytest.mark.parametrize(
    ("api_url", "web"),
    [("https://api.github.com", "https://github.com"),
     ("https://ghe.example/api/v3", "https://ghe.example"),
     ("http://127.0.0.1:9000", "http://127.0.0.1:9000")],
)  # fmt: skip
def test_the_web_address_follows_the_api_address(api_url: str, web: str) -> None:
    assert web_base(api_url) == web


@pytest.mark.parametrize("raw", ["../x", "/etc/passwd", "a/../../b", ".git", "a/.git/config"])
def test_a_scan_path_that_leaves_the_repository_is_refused(raw: str) -> None:
    with pytest.raises(Exception, match="file_paths"):
        confine(raw)


def test_a_scan_path_is_normalised() -> None:
    assert confine("mycosoft_mas/agents/") == "mycosoft_mas/agents"
    assert confine("./a//b.py") == "a/b.py"
    assert confine("") == confine(".") == "."
