"""The hash-chained audit log and `selfheal audit verify|log`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from selfheal.cli import main
from selfheal.ledger import Ledger, audit


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with Ledger.open(path) as led:
        led.write(
            lambda c: audit.append(
                c, "alice", "gate.approved", repository="o/r", request=4, details={"sha": "abc"}
            )
        )
        led.write(
            lambda c: audit.append(
                c,
                "bot",
                "label.reverted",
                repository="o/r",
                details={"label": "selfheal:halt", "by": "mallory"},
            )
        )
        led.write(lambda c: audit.append(c, "bob", "halt", repository="o/x", request=9))
    return path


def test_chain_links_and_verifies(db: Path) -> None:
    with Ledger.open(db) as led:
        entries = led.read(lambda c: audit.entries(c, limit=10))
        assert [e.id for e in entries] == [3, 2, 1]
        assert entries[-1].prev_hash == audit.GENESIS
        assert entries[0].prev_hash == entries[1].hash
        assert led.read(audit.verify) == audit.VerifyResult(True, 3, head_hash=entries[0].hash)
        assert [e.id for e in led.read(lambda c: audit.entries(c, repository="o/r"))] == [2, 1]
        assert [e.id for e in led.read(lambda c: audit.entries(c, request=4))] == [1]
        assert [e.id for e in led.read(lambda c: audit.entries(c, actor="bob"))] == [3]


def test_update_and_delete_are_refused(db: Path) -> None:
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'eve' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE id = 2")
    conn.close()


def _tamper(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_verify_cli_ok(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(db)]) == 0
    assert "3 entries" in capsys.readouterr().out


def test_verify_names_edited_entry(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(db, """UPDATE audit SET details = '{"sha":"evil"}' WHERE id = 1""")
    assert main(["audit", "verify", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "entry 1" in out and "hash mismatch" in out


def test_verify_names_relinked_entry(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A forger who recomputes entry 2's hash still breaks the link from entry 3.
    with Ledger.open(db) as led:
        e2 = led.read(lambda c: audit.entries(c, limit=10))[1]
    forged = audit.entry_hash(
        id=2,
        ts=e2.ts,
        actor="nobody",
        action=e2.action,
        repository=e2.repository,
        request=e2.request,
        details=e2.details,
        prev_hash=e2.prev_hash,
    )
    _tamper(db, f"UPDATE audit SET actor = 'nobody', hash = '{forged}' WHERE id = 2")
    assert main(["audit", "verify", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "entry 3" in out and "prev_hash mismatch" in out


def test_verify_names_gap(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(db, "DELETE FROM audit WHERE id = 2")
    assert main(["audit", "verify", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "entry 3" in out and "gap" in out


def test_audit_log_filters_and_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "log", "--db", str(db), "--repo", "o/r", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in data] == [2, 1]
    assert main(["audit", "log", "--db", str(db), "--actor", "alice"]) == 0
    text = capsys.readouterr().out
    assert "gate.approved" in text and "label.reverted" not in text
    assert main(["audit", "log", "--db", str(db), "--request", "9", "--limit", "1"]) == 0
    assert "halt" in capsys.readouterr().out


def test_audit_missing_db_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "nope.db")]) == 2
    assert "no ledger" in capsys.readouterr().err


def test_expected_head_detects_truncation(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(db)]) == 0
    head = capsys.readouterr().out.splitlines()[-1].removeprefix("head ")
    assert main(["audit", "verify", "--db", str(db), "--expect", head]) == 0
    capsys.readouterr()
    _tamper(db, "DELETE FROM audit WHERE id = 3")  # the last entry: links still check out
    assert main(["audit", "verify", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--db", str(db), "--expect", head]) == 1
    assert "removed from the end" in capsys.readouterr().out
