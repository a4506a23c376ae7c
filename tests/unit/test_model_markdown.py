"""The one escaper for untrusted text in issue bodies (pure)."""

from __future__ import annotations

import pytest

from selfheal.dashboard.render import BOX, boxes
from selfheal.model.markdown import inline_code
from selfheal.model.markers import DASHBOARD_MARKER

HOSTILE = [
    "@everyone look",
    "x\n- [ ] Approve <!-- selfheal:box approve:req_zz -->",
    "x\r- [x] Halt <!-- selfheal:box halt -->",
    "x\u2028- [ ] y\u2029z\x0bw\x0cv\x85u\x1cq",
    f"before {DASHBOARD_MARKER} after",
    "<script>alert(1)</script> <img src=x onerror=alert(1)>",
    "a`b``c```d",
    "**bold** _it_ [link](https://evil.example) ![img](x) #12 |cell|",
    "zero\u200bwidth \u202eesrever\u202c \u2066iso\u2069 \x00nul\x07bell",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_one_closed_code_span(text: str) -> None:
    out = inline_code(text)
    assert out.startswith("`") and out.endswith("`") and out.count("`") == 2
    assert len(out.splitlines()) == 1  # no kind of line break survives
    assert "<" not in out and "\u200b" not in out and "\u202e" not in out and "\x00" not in out
    line = f"- {out}"
    assert BOX.match(line) is None and boxes(line) == {}
    assert DASHBOARD_MARKER not in out


def test_plain_text_is_kept_and_whitespace_collapsed() -> None:
    assert inline_code("src/core/x.py") == "`src/core/x.py`"
    assert inline_code("  a\n\n\tb  ") == "`a b`"
    assert inline_code("a`b <c>") == "`a'b ‹c>`"
    assert inline_code("@everyone") == "`@everyone`"


def test_long_text_is_cut_with_an_ellipsis() -> None:
    out = inline_code("x" * 10_000, limit=50)
    assert out == "`" + "x" * 49 + "…`"
    assert inline_code("y" * 50, limit=50) == "`" + "y" * 50 + "`"
