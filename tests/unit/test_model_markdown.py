"""The one escaper for untrusted text in issue bodies, and the closing-keyword defuser
(pure)."""

from __future__ import annotations

import re

import pytest

from selfheal.dashboard.render import BOX, boxes
from selfheal.emulator.routes_pulls import closing_references
from selfheal.model.markdown import defuse_closing_keywords, inline_code
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


CLOSING_TEXTS = [
    "Fixes #8",
    "fixes: #3 and closes #4",
    "Closes acme/widgets#5",
    "Fixes#10",
    "**Fixes** #13",
    "RESOLVED   #14",
    "closes\n#3",
    "Resolves https://github.com/acme/widgets/issues/8",
    "resolve: GH-12",
    "Done. Closed #2, fixed #6 and resolved #7.",
]


@pytest.mark.parametrize("text", CLOSING_TEXTS)
def test_no_closing_keyword_is_left_before_a_reference(text: str) -> None:
    defused = defuse_closing_keywords(text)
    assert closing_references(defused, "acme/widgets") == []
    assert defuse_closing_keywords(defused) == defused  # a fixed point
    # the references stay, for a reader (and as plain links)
    for ref in re.findall(r"#\d+|GH-\d+|https://\S+", text):
        assert ref in defused


def test_the_emulator_would_have_closed_these() -> None:
    """The check above can fail: GitHub's stand-in closes issues for the raw texts."""
    closing = [t for t in CLOSING_TEXTS if closing_references(t, "acme/widgets")]
    assert len(closing) >= 6


@pytest.mark.parametrize(
    "text",
    ["fixes the #11 bug", "a fix for #4", "prefixes #3", "closest #2", "#5 closes nothing", ""],
)
def test_text_without_a_closing_reference_is_left_as_it_is(text: str) -> None:
    assert defuse_closing_keywords(text) == text
