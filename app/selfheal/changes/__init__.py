"""CodeModificationService: the change request lifecycle (a feature, not wired in yet).

The pure core, tested with plain values and free of I/O (the import contracts check it):

- ``machine``: the request's state machine, a transition table with guards;
- ``intake``: the request read from its issue (the issue form, free text, or the App's own
  machine block), the hygiene that runs before anything reads the text, and quoting text as
  untrusted data;
- ``authorisation``: who may file, label and edit a request;
- ``limits``: per-repository limits, the queue's order and the budget check.

The edges that carry the transitions out (GitHub, git, the ledger) come with the lifecycle
service.
"""
