"""The audit chain's hash format, pinned by known answers.

Existing ledgers and any outside verifier recompute these hashes, so the format must never
drift: ``sha256(body + prev_hash)`` in hex, where ``body`` is the entry's id, ts, actor, action,
repository, request and details as JSON with sorted keys, no spaces and UTF-8 left unescaped,
and ``prev_hash`` of the first entry is 64 zeros. The hashes below were computed once and
checked against the bodies written out here by hand; a change of key order, separators,
escaping, field names, timestamp format or genesis value changes them.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selfheal.ledger import Ledger, audit

GENESIS = "0000000000000000000000000000000000000000000000000000000000000000"

# (append arguments, timestamp, body as hashed, hash)
CHAIN: list[tuple[dict[str, Any], str, str, str]] = [
    (
        {
            "actor": "alice",
            "action": "gate.approved",
            "repository": "o/r",
            "request": 4,
            "details": {"zeta": 1, "sha": "abc", "alpha": [1, "x"]},
            "now": 1700000001.25,
        },
        "2023-11-14T22:13:21.250000Z",
        '{"action":"gate.approved","actor":"alice","details":{"alpha":[1,"x"],"sha":"abc",'
        '"zeta":1},"id":1,"repository":"o/r","request":4,"ts":"2023-11-14T22:13:21.250000Z"}',
        "74cf027a1a9f80dbc15e7e76157ec79e68f08653ce9a0795e7bfa4ca5e34d3f5",
    ),
    (
        {
            "actor": "bot",
            "action": "label.reverted",
            "repository": "o/r",
            "details": {"label": "selfheal:halt", "by": "Zoë ✓"},
            "now": 1700000002.5,
        },
        "2023-11-14T22:13:22.500000Z",
        '{"action":"label.reverted","actor":"bot","details":{"by":"Zoë ✓","label":"selfheal:halt"},'
        '"id":2,"repository":"o/r","request":null,"ts":"2023-11-14T22:13:22.500000Z"}',
        "4c44b5153632239e1d7840a0ecc13c59ade8b7f558cae4ff531fbbfb488cdfe9",
    ),
    (
        {"actor": "bob", "action": "halt", "now": 1700000003.0},
        "2023-11-14T22:13:23.000000Z",
        '{"action":"halt","actor":"bob","details":{},"id":3,"repository":null,"request":null,'
        '"ts":"2023-11-14T22:13:23.000000Z"}',
        "e0fa55c3c80d5ad060c23d8426eb49e111602d433b79ae7f7c8e27beefc3262d",
    ),
]
HEAD = CHAIN[-1][3]


def _previous(index: int) -> str:
    return CHAIN[index - 1][3] if index else GENESIS


def test_genesis_is_64_zeros() -> None:
    assert audit.GENESIS == GENESIS


@pytest.mark.parametrize("index", range(len(CHAIN)))
def test_the_written_bodies_are_what_is_hashed(index: int) -> None:
    args, ts, body, digest = CHAIN[index]
    assert hashlib.sha256((body + _previous(index)).encode("utf-8")).hexdigest() == digest
    assert (
        audit.canonical(
            {
                "id": index + 1,
                "ts": ts,
                "actor": args["actor"],
                "action": args["action"],
                "repository": args.get("repository"),
                "request": args.get("request"),
                "details": args.get("details", {}),
            }
        )
        == body
    )


@pytest.mark.parametrize("index", range(len(CHAIN)))
def test_entry_hash_gives_the_pinned_hash(index: int) -> None:
    args, ts, _, digest = CHAIN[index]
    assert (
        audit.entry_hash(
            id=index + 1,
            ts=ts,
            actor=args["actor"],
            action=args["action"],
            repository=args.get("repository"),
            request=args.get("request"),
            details=args.get("details", {}),
            prev_hash=_previous(index),
        )
        == digest
    )


def _append_chain(conn: sqlite3.Connection) -> list[audit.AuditEntry]:
    return [audit.append(conn, **args) for args, *_ in CHAIN]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "audit.db") as led:
        yield led


def test_append_writes_the_pinned_chain(ledger: Ledger) -> None:
    appended = ledger.write(_append_chain)
    expected = [
        audit.AuditEntry(
            index + 1,
            ts,
            args["actor"],
            args["action"],
            args.get("repository"),
            args.get("request"),
            dict(sorted(args.get("details", {}).items())),
            _previous(index),
            digest,
        )
        for index, (args, ts, _, digest) in enumerate(CHAIN)
    ]
    assert appended == expected
    assert ledger.read(lambda c: audit.entries(c)) == expected[::-1]
    stored = ledger.read(lambda c: [tuple(r) for r in c.execute("SELECT * FROM audit")])
    assert [row[6] for row in stored] == [
        '{"alpha":[1,"x"],"sha":"abc","zeta":1}',
        '{"by":"Zoë ✓","label":"selfheal:halt"}',
        "{}",
    ]
    assert [(row[7], row[8]) for row in stored] == [
        (_previous(index), CHAIN[index][3]) for index in range(len(CHAIN))
    ]


def test_verify_reports_the_pinned_head(ledger: Ledger) -> None:
    ledger.write(_append_chain)
    result = ledger.read(audit.verify)
    assert (result.ok, result.checked, result.broken_id, result.reason) == (True, 3, None, "")
    assert result.head_hash == HEAD
    assert ledger.read(lambda c: audit.verify(c, expect_hash=CHAIN[1][3])).ok


def test_an_empty_log_verifies_with_the_genesis_head(ledger: Ledger) -> None:
    assert ledger.read(audit.verify) == audit.VerifyResult(True, 0, None, "", GENESIS)


# -- rows that append never writes: what verify makes of them -------------------------------


def _insert(path: Path, *rows: tuple[object, ...], sql: str = "?") -> None:
    """Add raw rows behind the ledger's back (INSERT is allowed, UPDATE and DELETE are not)."""
    conn = sqlite3.connect(path)
    for row in rows:
        conn.execute(
            "INSERT INTO audit (id, ts, actor, action, repository, request, details, prev_hash,"
            f" hash) VALUES (?, ?, {sql}, ?, ?, ?, ?, ?, ?)",
            row,
        )
    conn.commit()
    conn.close()


def _two_entries(path: Path) -> str:
    with Ledger.open(path) as led:
        led.write(lambda c: [audit.append(c, **args) for args, *_ in CHAIN[:2]])
    return CHAIN[1][3]


def test_details_that_are_not_an_object_are_hashed_under_an_empty_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    prev = _two_entries(path)
    body = (
        '{"action":"import","actor":"eve","details":{"":[1,"a"]},"id":3,"repository":null,'
        '"request":null,"ts":"2023-11-14T22:13:23.000000Z"}'
    )
    digest = "e561d6cb4cb88bd727f4fccff32dbab3e81b53598eb330427bd85229a44ec000"
    assert hashlib.sha256((body + prev).encode("utf-8")).hexdigest() == digest
    ts = "2023-11-14T22:13:23.000000Z"
    _insert(path, (3, ts, "eve", "import", None, None, '[1,"a"]', prev, digest))
    with Ledger.open(path) as led:
        assert led.read(audit.verify) == audit.VerifyResult(True, 3, None, "", digest)


def test_details_that_are_not_json_break_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    prev = _two_entries(path)
    _insert(path, (3, "t", "eve", "x", None, None, "{not json", prev, "f" * 64))
    with Ledger.open(path) as led:
        assert led.read(audit.verify) == audit.VerifyResult(
            False, 2, 3, "details are not valid JSON"
        )


def test_a_column_that_is_not_utf8_is_reported_after_the_last_good_entry(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.db"
    prev = _two_entries(path)
    _insert(path, (3, "t", b"\xff", "x", None, None, "{}", prev, "f" * 64), sql="CAST(? AS TEXT)")
    with Ledger.open(path) as led:
        result = led.read(audit.verify)
    assert (result.ok, result.checked, result.broken_id) == (False, 2, None)
    assert result.reason.startswith("entry after 2: ")
    assert "UTF-8" in result.reason


@pytest.mark.parametrize("entry", [1, 3])
def test_an_entry_whose_hash_cannot_be_computed_never_verifies(tmp_path: Path, entry: int) -> None:
    """An actor rewritten as a BLOB cannot be hashed; an empty stored hash must not pass."""
    path = tmp_path / "audit.db"
    with Ledger.open(path) as led:
        led.write(_append_chain)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute(
        "UPDATE audit SET actor = CAST('mallory' AS BLOB), hash = '' WHERE id = ?", (entry,)
    )
    conn.commit()
    conn.close()
    with Ledger.open(path) as led:
        assert led.read(audit.verify) == audit.VerifyResult(
            False, entry - 1, entry, "hash mismatch: the entry was edited after it was written"
        )


# -- reading the log back ------------------------------------------------------------------


def test_entries_are_newest_first_and_limited_to_100_by_default(ledger: Ledger) -> None:
    ledger.write(
        lambda c: [audit.append(c, "bot", "tick", now=1700000000.0 + i) for i in range(101)]
    )
    newest = ledger.read(lambda c: audit.entries(c))
    assert [e.id for e in newest] == list(range(101, 1, -1))
    assert [e.id for e in ledger.read(lambda c: audit.entries(c, limit=2))] == [101, 100]


def test_entries_filters_combine(ledger: Ledger) -> None:
    ledger.write(_append_chain)
    ledger.write(lambda c: audit.append(c, "alice", "halt", repository="o/r", now=1700000004.0))

    def ids(**filters: Any) -> list[int]:
        return [e.id for e in ledger.read(lambda c: audit.entries(c, **filters))]

    assert ids(action="halt") == [4, 3]
    assert ids(actor="alice") == [4, 1]
    assert ids(actor="alice", action="halt") == [4]
    assert ids(repository="o/r", request=4) == [1]
    assert ids(repository="o/r", action="label.reverted") == [2]
    assert ids(actor="nobody") == []
