"""The security gate's pure logic: check-run output (conclusions, titles, summaries,
annotation batches, the Approve action) in :mod:`app.gate.output`, and who may approve in
:mod:`app.gate.approval`. The I/O lives in :mod:`app.handlers.gate`."""
