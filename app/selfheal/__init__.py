"""selfheal: a Git-native GitHub App and CI bot for self-healing code."""

__version__ = "0.1.0"
