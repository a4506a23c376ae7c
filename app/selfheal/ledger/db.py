"""The ledger's SQLite database: connections, migrations and the single writer.

Following Datasette's design, exactly one thread writes: :class:`Ledger` owns a writer thread
with its own connection and runs every write function (``fn(conn) -> T``) inside a
``BEGIN IMMEDIATE`` transaction, one after another. Reads use per-thread connections, so the
aiohttp loop can read in an executor (:meth:`Ledger.aread`) and write without blocking
(:meth:`Ledger.awrite`). WAL mode lets readers and the writer work at the same time;
``busy_timeout`` covers a second process (the CLI) writing to the same file.

Schema changes happen only through :data:`MIGRATIONS`, numbered and recorded in
``schema_migrations``; opening a ledger applies the missing ones and is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlite_utils

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")
BUSY_TIMEOUT_MS = 10_000
MAX_BATCH = 64
CHECKPOINT_INTERVAL = 0.25
# A WAL that still grows past this (a reader kept an old snapshot through every checkpoint) is
# reset with a blocking TRUNCATE checkpoint; normally the WAL stays at a few MiB.
WAL_RESTART_BYTES = 64 * 1024 * 1024
WriteFn = Callable[[sqlite3.Connection], Any]

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "initial schema",
        (
            """CREATE TABLE deliveries (
                id INTEGER PRIMARY KEY,
                delivery_id TEXT NOT NULL UNIQUE,
                event TEXT NOT NULL,
                action TEXT,
                installation_id INTEGER,
                repository TEXT,
                received_at REAL NOT NULL,
                payload TEXT NOT NULL,
                outcome TEXT NOT NULL DEFAULT 'queued',
                processed_at REAL
            )""",
            "CREATE INDEX deliveries_repository ON deliveries(repository, received_at)",
            """CREATE TABLE jobs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                key TEXT,
                repository TEXT,
                payload TEXT NOT NULL DEFAULT '{}',
                status TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'dead')),
                attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL DEFAULT 5,
                lease_owner TEXT,
                lease_expires_at REAL,
                run_after REAL NOT NULL,
                last_error TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                started_at REAL,
                finished_at REAL
            )""",
            "CREATE INDEX jobs_runnable ON jobs(status, run_after, id)",
            """CREATE UNIQUE INDEX jobs_active_key ON jobs(key)
                WHERE key IS NOT NULL AND status IN ('queued', 'running')""",
            """CREATE TABLE installations (
                id INTEGER PRIMARY KEY,
                account TEXT NOT NULL,
                account_type TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                suspended_at REAL,
                deleted_at REAL
            )""",
            """CREATE TABLE repositories (
                id INTEGER PRIMARY KEY,
                installation_id INTEGER REFERENCES installations(id),
                full_name TEXT NOT NULL UNIQUE,
                default_branch TEXT,
                private INTEGER,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                removed_at REAL
            )""",
            """CREATE TABLE gate_runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                repository TEXT NOT NULL,
                pr_number INTEGER,
                head_sha TEXT NOT NULL,
                base_sha TEXT,
                check_run_id INTEGER,
                status TEXT NOT NULL DEFAULT 'queued',
                conclusion TEXT,
                risk TEXT,
                title TEXT,
                approved_by TEXT,
                approved_at REAL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )""",
            "CREATE INDEX gate_runs_head ON gate_runs(repository, head_sha)",
            """CREATE TABLE findings (
                id INTEGER PRIMARY KEY,
                gate_run_id INTEGER NOT NULL REFERENCES gate_runs(id) ON DELETE CASCADE,
                rule_id TEXT NOT NULL,
                category TEXT NOT NULL,
                severity TEXT NOT NULL,
                path TEXT NOT NULL,
                line INTEGER NOT NULL,
                message TEXT NOT NULL,
                source TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX findings_gate_run ON findings(gate_run_id)",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                ts TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                repository TEXT,
                request INTEGER,
                details TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL UNIQUE
            )""",
            "CREATE INDEX audit_repository ON audit(repository, request)",
            """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
            """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
            """CREATE TABLE effects (
                key TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                github_id TEXT,
                job_id INTEGER,
                data TEXT NOT NULL DEFAULT '{}',
                created_at REAL NOT NULL
            )""",
        ),
    ),
)


MIGRATIONS += (
    (
        2,
        "index expired leases",
        ("CREATE INDEX jobs_leases ON jobs(status, lease_expires_at)",),
    ),
    (
        3,
        "payloads in their own table",
        # Updating a delivery's outcome rewrote its whole row, payload included (tens of KiB).
        # deliveries.payload stays (SQLite before 3.35 cannot drop columns) but is left empty.
        (
            """CREATE TABLE delivery_payloads (
                delivery_id TEXT PRIMARY KEY REFERENCES deliveries(delivery_id),
                payload TEXT NOT NULL
            )""",
            "INSERT INTO delivery_payloads (delivery_id, payload)"
            " SELECT delivery_id, payload FROM deliveries",
            "UPDATE deliveries SET payload = ''",
        ),
    ),
    (
        4,
        "change requests and their transitions",
        (
            """CREATE TABLE requests (
                id TEXT PRIMARY KEY,
                repository TEXT NOT NULL,
                issue_number INTEGER NOT NULL,
                state TEXT NOT NULL,
                requester TEXT NOT NULL,
                source TEXT NOT NULL,
                change_type TEXT NOT NULL,
                priority INTEGER NOT NULL,
                agent_id TEXT,
                targets TEXT NOT NULL,
                branch TEXT,
                pr_number INTEGER,
                head_sha TEXT,
                cost_usd REAL NOT NULL,
                budget_usd REAL NOT NULL,
                data TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )""",
            "CREATE UNIQUE INDEX requests_issue ON requests(repository COLLATE NOCASE,"
            " issue_number)",
            "CREATE INDEX requests_state ON requests(state, priority)",
            """CREATE TABLE request_transitions (
                id INTEGER PRIMARY KEY,
                request_id TEXT NOT NULL REFERENCES requests(id),
                from_state TEXT,
                to_state TEXT NOT NULL,
                event TEXT NOT NULL,
                actor TEXT NOT NULL,
                reason TEXT NOT NULL,
                cost_usd REAL NOT NULL,
                at REAL NOT NULL
            )""",
            "CREATE INDEX request_transitions_request ON request_transitions(request_id, id)",
        ),
    ),
    (
        9,
        "dispatched Actions runs, as their webhooks report them",
        (
            """CREATE TABLE action_runs (
                run_id INTEGER PRIMARY KEY,
                repository TEXT NOT NULL,
                path TEXT NOT NULL,
                status TEXT NOT NULL,
                conclusion TEXT,
                jobs TEXT NOT NULL,
                updated_at REAL NOT NULL
            )""",
        ),
    ),
)


MIGRATIONS += (
    (
        6,
        "model spend per call",
        # One row per metered model call of a request, written as the call is charged, so a
        # restart keeps the spend; requests.cost_usd is the running total of these rows.
        (
            """CREATE TABLE request_calls (
                id INTEGER PRIMARY KEY,
                request_id TEXT NOT NULL REFERENCES requests(id),
                agent_id TEXT NOT NULL,
                model TEXT NOT NULL,
                input_tokens INTEGER NOT NULL,
                output_tokens INTEGER NOT NULL,
                cache_write_5m INTEGER NOT NULL,
                cache_write_1h INTEGER NOT NULL,
                cache_read INTEGER NOT NULL,
                cost_usd REAL NOT NULL,
                at REAL NOT NULL
            )""",
            "CREATE INDEX request_calls_request ON request_calls(request_id, id)",
        ),
    ),
)


# The monitor's fingerprints, their occurrences (one row per distinct run) and its scheduler
# (selfheal.ledger.monitor).
MIGRATIONS += (
    (
        8,
        "the monitor: fingerprints, occurrences, schedule",
        (
            """CREATE TABLE monitor_fingerprints (
                id INTEGER PRIMARY KEY,
                repository TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                identity TEXT NOT NULL,
                signature TEXT NOT NULL,
                sample TEXT NOT NULL,
                immediate INTEGER NOT NULL DEFAULT 0,
                first_seen REAL NOT NULL,
                last_seen REAL NOT NULL,
                total INTEGER NOT NULL DEFAULT 0,
                dirty INTEGER NOT NULL DEFAULT 0,
                issue_number INTEGER,
                issue_state TEXT NOT NULL DEFAULT 'none',
                closed_at REAL,
                filed_at REAL,
                attempts INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE UNIQUE INDEX monitor_fingerprints_key ON monitor_fingerprints("
            "repository COLLATE NOCASE, fingerprint)",
            """CREATE TABLE monitor_occurrences (
                fingerprint_id INTEGER NOT NULL REFERENCES monitor_fingerprints(id),
                run TEXT NOT NULL,
                at REAL NOT NULL,
                source TEXT NOT NULL,
                commit_sha TEXT,
                reporter TEXT,
                PRIMARY KEY (fingerprint_id, run)
            ) WITHOUT ROWID""",
            "CREATE INDEX monitor_occurrences_at ON monitor_occurrences(fingerprint_id, at)",
            """CREATE TABLE monitor_filings (
                repository TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                issue_number INTEGER NOT NULL,
                at REAL NOT NULL
            )""",
            "CREATE INDEX monitor_filings_at ON monitor_filings(repository, at)",
            """CREATE TABLE monitor_schedule (
                name TEXT PRIMARY KEY,
                next_run REAL NOT NULL,
                last_slot REAL,
                last_owner TEXT,
                updated_at REAL NOT NULL
            )""",
            """CREATE TABLE monitor_state (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
        ),
    ),
)


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with WAL, foreign keys and a busy timeout; autocommit mode."""
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    db = sqlite_utils.Database(conn)
    if not db["schema_migrations"].exists():
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply missing migrations (the caller holds the write transaction)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    current = schema_version(conn)
    applied: list[int] = []
    for version, name, statements in MIGRATIONS:
        if version <= current:
            continue
        for statement in statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (version, name, time.time()),
        )
        applied.append(version)
    return applied


def _flush_file(path: Path) -> None:
    """fdatasync a file SQLite keeps no POSIX locks on (closing our descriptor drops none)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        getattr(os, "fdatasync", os.fsync)(fd)  # macOS has no fdatasync
    finally:
        os.close(fd)


class LedgerClosed(RuntimeError):
    """A write was submitted after :meth:`Ledger.close`."""


class Ledger:
    """The ledger: one writer thread, per-thread read connections."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._queue: queue.SimpleQueue[tuple[WriteFn, Future[Any]] | None] = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._checkpoint_wanted = threading.Event()
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="ledger-writer", daemon=True
        )
        self._thread.start()
        ready.result()
        self.applied_migrations: list[int] = self.write(migrate)
        self._stop_checkpoints = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="ledger-checkpoint", daemon=True
        )
        self._checkpointer.start()

    @classmethod
    def open(cls, path: Path | str) -> Ledger:
        return cls(path)

    def _run(self, ready: Future[None]) -> None:
        try:
            conn = connect(self.path)
            # Checkpoints (and their fsync) run on their own thread, never inside a commit:
            # an automatic checkpoint on the writer stalled every few hundred writes by tens
            # of milliseconds.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                batch = [item]
                stop = False
                while len(batch) < MAX_BATCH:  # group commit: drain what is already waiting
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._run_batch(conn, batch)
                if stop:
                    break
                if self._checkpoint_wanted.is_set():
                    self._finish_checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint_loop(self) -> None:
        """Copy the WAL back into the database regularly, off the writer's path.

        Under steady writes a background PASSIVE pass never sees the WAL at rest, so it never
        completes: its database fsync is deferred and the WAL cannot restart, until some
        checkpoint finally completes and pays for all of it at once (a stall of tens of
        milliseconds per 16 MiB). So this thread does the bulk work without blocking anyone:
        it copies frames and flushes the WAL file (which SQLite never locks, so a separate
        descriptor is safe). Then it asks the writer to finish between two batches, where a
        PASSIVE checkpoint is sure to complete: it copies the few frames written meanwhile and
        syncs the database, a few milliseconds, and the next write restarts the WAL.
        """
        conn = connect(self.path)
        wal = Path(f"{self.path}-wal")
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_INTERVAL):
                try:
                    _busy, frames, _copied = conn.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                    if frames > 0:
                        _flush_file(wal)
                        self._checkpoint_wanted.set()
                    if wal.exists() and wal.stat().st_size > WAL_RESTART_BYTES:
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except (sqlite3.Error, OSError) as exc:
                    logging.getLogger(__name__).warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()

    def _finish_checkpoint(self, conn: sqlite3.Connection) -> None:
        """The writer's share of a checkpoint (see :meth:`_checkpoint_loop`)."""
        self._checkpoint_wanted.clear()
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            logging.getLogger(__name__).warning("WAL checkpoint failed: %s", exc)

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[tuple[WriteFn, Future[Any]]]) -> None:
        """Run each write function in its own savepoint, all under one commit.

        A function that raises is rolled back alone; results are delivered only after the
        COMMIT, so a caller never sees a write that is not durable.
        """
        try:
            outcomes = Ledger._commit_batch(conn, batch)
        except BaseException as exc:  # the commit itself failed: nothing was written
            Ledger._fail_batch(conn, batch, exc)
            return
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    @staticmethod
    def _commit_batch(
        conn: sqlite3.Connection, batch: list[tuple[WriteFn, Future[Any]]]
    ) -> list[tuple[Future[Any], bool, Any]]:
        """Run the batch's write functions that were not cancelled and COMMIT; return each
        one's future with (True, its result) or (False, what it raised)."""
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        for fn, future in batch:
            if future.set_running_or_notify_cancel():
                outcomes.append((future, *Ledger._run_in_savepoint(conn, fn)))
        conn.execute("COMMIT")
        return outcomes

    @staticmethod
    def _run_in_savepoint(conn: sqlite3.Connection, fn: WriteFn) -> tuple[bool, Any]:
        """(True, result) of ``fn``, or (False, exception) with its writes rolled back."""
        conn.execute("SAVEPOINT write_fn")
        try:
            result = fn(conn)
        except BaseException as exc:
            conn.execute("ROLLBACK TO write_fn")
            conn.execute("RELEASE write_fn")
            return False, exc
        conn.execute("RELEASE write_fn")
        return True, result

    @staticmethod
    def _fail_batch(
        conn: sqlite3.Connection, batch: list[tuple[WriteFn, Future[Any]]], exc: BaseException
    ) -> None:
        """Roll back what is left of the batch and give its error to every waiting caller."""
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        if self._closed:
            raise LedgerClosed("the ledger is closed")
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in a write transaction on the writer thread and return its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("Ledger.write called from inside a write function")
        return self.submit(fn).result()

    async def awrite(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Like :meth:`write`, without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(fn))

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on this thread's read connection (a consistent snapshot)."""
        if self._closed:
            raise LedgerClosed("the ledger is closed")
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    async def aread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.read, fn)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_checkpoints.set()
        self._checkpointer.join(timeout=30)
        self._queue.put(None)
        self._thread.join(timeout=30)
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def from_row(cls: type[D], row: sqlite3.Row, **decoded: Any) -> D:
    """The dataclass ``cls`` from the row's columns of the same names; ``decoded`` gives the
    fields that are not stored as they are (JSON text, a column under another name)."""
    return cls(**({f.name: row[f.name] for f in fields(cls)} | decoded))


MIGRATIONS += (
    (
        7,
        "API tokens, requests filed through the API, and reported failure events",
        (
            """CREATE TABLE api_tokens (
                name TEXT PRIMARY KEY,
                token_hash TEXT NOT NULL UNIQUE,
                prefix TEXT NOT NULL,
                scopes TEXT NOT NULL,
                repositories TEXT NOT NULL,
                github_login TEXT,
                created_at REAL NOT NULL,
                expires_at REAL,
                revoked_at REAL,
                last_used_at REAL
            )""",
            """CREATE TABLE api_requests (
                id TEXT PRIMARY KEY,
                repository TEXT NOT NULL,
                issue_number INTEGER NOT NULL,
                token TEXT NOT NULL,
                requester_id TEXT,
                change_type TEXT NOT NULL,
                priority INTEGER NOT NULL,
                agent_id TEXT,
                budget_usd REAL NOT NULL,
                created_at REAL NOT NULL
            )""",
            "CREATE INDEX api_requests_repo ON api_requests(repository COLLATE NOCASE, created_at)",
            """CREATE TABLE monitor_events (
                id INTEGER PRIMARY KEY,
                reporter TEXT NOT NULL,
                source TEXT NOT NULL,
                repository TEXT,
                agent_id TEXT,
                error_type TEXT,
                severity TEXT,
                event TEXT NOT NULL,
                received_at REAL NOT NULL
            )""",
            "CREATE INDEX monitor_events_received ON monitor_events(received_at)",
        ),
    ),
    (
        10,
        "the notification outbox and its delivery attempts",
        (
            """CREATE TABLE notifications (
                id TEXT PRIMARY KEY,
                event TEXT NOT NULL,
                repository TEXT NOT NULL,
                target_key TEXT NOT NULL,
                target_shown TEXT NOT NULL,
                body BLOB NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                last_error TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )""",
            "CREATE INDEX notifications_repository ON notifications(repository, created_at)",
            """CREATE TABLE notification_attempts (
                id INTEGER PRIMARY KEY,
                notification_id TEXT NOT NULL REFERENCES notifications(id),
                at REAL NOT NULL,
                status_code INTEGER,
                error TEXT NOT NULL,
                seconds REAL NOT NULL
            )""",
            "CREATE INDEX notification_attempts_of ON notification_attempts(notification_id, id)",
        ),
    ),
)


# The tuple is extended in several places above; from here on it is in version order.
MIGRATIONS = tuple(sorted(MIGRATIONS, key=lambda m: m[0]))
