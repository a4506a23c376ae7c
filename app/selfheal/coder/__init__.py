"""Coders: backends that edit a work tree for a change request (CodingAgent).

One interface (:mod:`selfheal.coder.interface`), one path guard every edit passes
(:mod:`selfheal.coder.guard`), the runner that wraps every backend with the guard's checks
(:mod:`selfheal.coder.runner`), and the deterministic ``rules`` backend
(:mod:`selfheal.coder.rules`). The request lifecycle calls :func:`runner.run_coder`; so does
``selfheal code``. See docs/coder.md.
"""
