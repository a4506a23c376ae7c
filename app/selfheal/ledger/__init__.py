"""The ledger: selfheal's SQLite store (deliveries, job queue, installations, gate runs,
findings, side-effect records and the hash-chained audit log).

Open it with ``Ledger.open(path)``; run the functions of the submodules through
``ledger.write(fn)`` / ``await ledger.awrite(fn)`` (one writer thread) or ``ledger.read`` /
``await ledger.aread`` (per-thread read connections), e.g.::

    entry = await ledger.awrite(lambda c: audit.append(c, "octocat", "gate.approved"))
"""

from selfheal.ledger.db import Ledger, LedgerClosed, connect, migrate, schema_version

__all__ = ["Ledger", "LedgerClosed", "connect", "migrate", "schema_version"]
