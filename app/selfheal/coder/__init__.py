"""Coders: backends that edit a work tree for a change request (CodingAgent).

The path guard every edit passes (:mod:`selfheal.coder.guard`) and the guarded view of the
work tree a backend gets (:mod:`selfheal.coder.workspace`). See docs/coder.md.
"""
