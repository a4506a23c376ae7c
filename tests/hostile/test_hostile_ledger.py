"""Hostile ledger files and tampering, through the real `selfheal` CLI and real SQLite.

A file that is not a ledger (random bytes, a SQLite header with garbage, an empty file,
another application's database) must be a clear exit 2, never a traceback; tampering that
changes a column's type or encoding must be reported as a broken chain (exit 1), not crash the
verifier; and processes appending to the same ledger at once must keep one unbroken chain.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from selfheal.ledger import Ledger, audit, jobs
from tests.support.hostile import run_selfheal


def _not_a_ledger(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.db"
    if kind == "random":
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "header-then-garbage":
        path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    elif kind == "empty":
        path.write_bytes(b"")
    else:  # another application's database with a table called audit
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE audit (x)")
        conn.commit()
        conn.close()
    return path


@pytest.mark.parametrize("kind", ["random", "header-then-garbage", "empty", "foreign"])
@pytest.mark.parametrize(
    "command", [("audit", "verify"), ("audit", "log"), ("jobs", "list")], ids="-".join
)
def test_a_file_that_is_not_a_ledger_is_exit_2_without_traceback(
    tmp_path: Path, kind: str, command: tuple[str, str]
) -> None:
    path = _not_a_ledger(tmp_path, kind)
    done = run_selfheal(*command, "--db", str(path), clean_env=True)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"the ledger {path}" in done.stderr


def test_jobs_retry_on_a_corrupt_file_is_exit_2(tmp_path: Path) -> None:
    path = _not_a_ledger(tmp_path, "random")
    done = run_selfheal("jobs", "retry", "1", "--db", str(path), clean_env=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "file is not a database" in done.stderr


def _append_many(path: str, actor: str, count: int) -> None:
    with Ledger.open(path) as ledger:
        for n in range(count):

            def append(conn: sqlite3.Connection, n: int = n) -> audit.AuditEntry:
                return audit.append(conn, actor, "test.append", details={"n": n})

            ledger.write(append)


def _ledger_with_entries(path: Path, count: int = 3) -> None:
    _append_many(str(path), "octocat", count)


def _tamper(path: Path, sql: str, *params: object) -> None:
    """What an attacker with the file can do: drop the append-only triggers and rewrite."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("sql", "params", "reason"),
    [
        # the same text, stored as a BLOB: json.dumps raised TypeError in the verifier
        ("UPDATE audit SET actor = CAST(actor AS BLOB) WHERE id = 2", (), "hash mismatch"),
        # bytes that are not UTF-8: sqlite3 raised OperationalError while iterating
        ("UPDATE audit SET action = CAST(X'FFFE41' AS TEXT) WHERE id = 2", (), "decode"),
        ("UPDATE audit SET request = '7' WHERE id = 2", (), "hash mismatch"),
        ("UPDATE audit SET details = '[1]' WHERE id = 3", (), "hash mismatch"),
        ("UPDATE audit SET details = 'not json' WHERE id = 3", (), "not valid JSON"),
        ("UPDATE audit SET prev_hash = upper(prev_hash) WHERE id = 2", (), "prev_hash mismatch"),
        ("UPDATE audit SET id = 9 WHERE id = 3", (), "gap"),
    ],
)
def test_tampering_variants_are_a_broken_chain_not_a_crash(
    tmp_path: Path, sql: str, params: tuple[object, ...], reason: str
) -> None:
    path = tmp_path / "ledger.db"
    _ledger_with_entries(path)
    assert run_selfheal("audit", "verify", "--db", str(path), clean_env=True).returncode == 0
    _tamper(path, sql, *params)
    done = run_selfheal("audit", "verify", "--db", str(path), clean_env=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "BROKEN" in done.stdout and reason in done.stdout


def test_processes_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Ledger.open(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(str(path), f"proc{i}", 40)) for i in range(3)
    ]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(120)
        assert proc.exitcode == 0
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    result = audit.verify(conn)
    per_actor = dict(conn.execute("SELECT actor, COUNT(*) FROM audit GROUP BY actor").fetchall())
    conn.close()
    assert result.ok and result.checked == 120
    assert per_actor == {"proc0": 40, "proc1": 40, "proc2": 40}


def test_text_listings_escape_control_characters(tmp_path: Path) -> None:
    """A dead job's last error can quote issue text: ESC sequences and newlines in it must
    reach the operator's terminal escaped, not interpreted."""
    path = tmp_path / "ledger.db"
    hostile = "title \x1b]0;pwned\x07\x1b[2J\nfake line"

    def dead_job(conn: sqlite3.Connection) -> None:
        job_id, _ = jobs.enqueue(conn, "webhook", {}, repository="octo/demo", max_attempts=1)
        leased = jobs.lease(conn, "w1", lease_seconds=60)
        assert leased is not None and leased.id == job_id
        jobs.fail(conn, job_id, "w1", f"RuntimeError: {hostile}", retry=False)
        audit.append(conn, "octocat", "request.opened", details={"title": hostile})

    with Ledger.open(path) as ledger:
        ledger.write(dead_job)
    for command in (("jobs", "list"), ("audit", "log")):
        done = run_selfheal(*command, "--db", str(path), clean_env=True)
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\x07" not in done.stdout
        assert len(done.stdout.strip().splitlines()) == 1
    listing = run_selfheal("jobs", "list", "--db", str(path), clean_env=True).stdout
    assert "\\x1b]0;pwned\\x07" in listing
