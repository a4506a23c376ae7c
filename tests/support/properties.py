"""Hypothesis settings shared by the property tests.

Bounded and deterministic: a fixed number of examples, no deadline (the machine is shared),
examples derived from the test itself rather than a random seed, and no example database,
so a run in CI explores exactly what a run on a developer's machine explores.
"""

from __future__ import annotations

from hypothesis import settings

BOUNDED = settings(max_examples=300, deadline=None, derandomize=True, database=None)
