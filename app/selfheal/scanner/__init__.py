"""VulnerabilityScanner: semgrep rules, secret detection and dependency advisories."""


class ScannerError(RuntimeError):
    """A scanner could not complete. Callers that gate changes must fail closed on it."""


class ScanInputError(ValueError):
    """The caller asked for something the scan cannot do (a ``--base`` outside a git work
    tree, say). The command line reports it as a usage error (exit 2)."""
