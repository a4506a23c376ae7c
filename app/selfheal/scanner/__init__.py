"""VulnerabilityScanner: semgrep rules, secret detection and dependency advisories."""


class ScannerError(RuntimeError):
    """A scanner could not complete. Callers that gate changes must fail closed on it."""
