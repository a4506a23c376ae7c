"""Render findings and verdicts as text, JSON, SARIF, markdown and workflow annotations."""
