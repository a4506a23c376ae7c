"""CodeModificationService: the change request lifecycle (a feature, not wired in yet).

The pure core, tested with plain values and free of I/O (the import contracts check it):

- ``machine``: the request's state machine, a transition table with guards.

The edges that carry the transitions out (GitHub, git, the ledger) come with the lifecycle
service.
"""
