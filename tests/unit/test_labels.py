"""The one list of labels (selfheal.model.labels): names, colours, the state names, the
parsers of type, priority and agent labels, and the plan that migrates a repository's labels."""

from __future__ import annotations

import re

import pytest

from selfheal.model import labels
from selfheal.model.labels import LabelSpec, label_set


def _luma(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return 0.299 * r + 0.587 * g + 0.114 * b


def _by_name() -> dict[str, LabelSpec]:
    return {spec.name: spec for spec in label_set()}


def test_every_label_is_valid_for_github() -> None:
    specs = label_set()
    assert len({s.name.lower() for s in specs}) == len(specs)
    for spec in specs:
        assert len(spec.name) <= labels.MAX_NAME, spec
        assert re.fullmatch(r"[0-9a-f]{6}", spec.color), spec
        assert 0 < len(spec.description) <= labels.MAX_DESCRIPTION, spec
    raw = [d for d, _ in labels.STATES.values()] + list(labels.REQUEST_TYPES.values())
    assert all(len(d) <= labels.MAX_DESCRIPTION for d in raw)  # nothing is cut short


def test_priority_10_is_the_most_urgent() -> None:
    specs = _by_name()
    ramp = [specs[f"selfheal:priority/{n}"] for n in range(1, 11)]
    assert all("10 = most urgent" in spec.description for spec in ramp)
    lumas = [_luma(spec.color) for spec in ramp]
    assert lumas == sorted(lumas, reverse=True) and len(set(lumas)) == 10  # darker each step
    assert ramp[-1].color == specs[labels.HALT_LABEL].color == "b60205"  # the red of alarm
    assert ramp[0].color == "f5f5f5"


def test_the_state_labels_keep_their_names_and_cover_every_state() -> None:
    names = set(_by_name())
    for old in ("queued", "reviewing", "needs-approval", "coding", "pr-open", "blocked", "done",
                "failed", "cancelled"):  # fmt: skip
        assert f"selfheal:state/{old}" in names
    for new in ("received", "gating", "rolled-back", "halted", "budget-exceeded"):
        assert f"selfheal:state/{new}" in names
    assert sorted(labels.STATE_LABELS.values()) == sorted(labels.STATES)  # one label per state
    assert labels.state_label("awaiting_approval") == "selfheal:state/needs-approval"
    assert labels.state_label("pr_ready") == "selfheal:state/pr-open"
    assert labels.state_label("merged") == "selfheal:state/done"
    assert labels.state_label("rolled_back") == "selfheal:state/rolled-back"
    for state in labels.STATE_LABELS:
        assert labels.state_of(labels.state_label(state)) == state
    with pytest.raises(ValueError, match="unknown request state"):
        labels.state_label("pr-open")  # a label suffix, not a state


def test_reading_a_state_label() -> None:
    assert labels.state_of("SELFHEAL:STATE/PR-OPEN") == "pr_ready"  # GitHub ignores case
    assert labels.state_of("selfheal:state/awaiting_approval") is None  # state name, not label
    assert labels.state_of("selfheal:state/\u200bdone") is None
    assert labels.state_of("selfheal:request") is None


def test_the_bot_approved_and_monitor_labels_exist() -> None:
    specs = _by_name()
    assert "opened" in specs["selfheal:bot"].description
    assert "reverted" in specs["selfheal:approved"].description
    assert "selfheal:source/monitor" in specs
    assert not any(name.startswith("selfheal:agent/") for name in specs)  # never created


def test_type_labels() -> None:
    assert labels.type_of("selfheal:type/security") == "security"
    assert labels.type_of("Selfheal:Type/Dependency") == "dependency"
    assert labels.type_of("bug") is None
    assert labels.type_of("selfheal:ty\u200bpe/security") is None  # not our prefix
    with pytest.raises(ValueError, match="names no request type"):
        labels.type_of("selfheal:type/rewrite-everything")
    with pytest.raises(ValueError, match="names no request type"):
        labels.type_of("selfheal:type/secu\u200brity")


@pytest.mark.parametrize("n", range(1, 11))
def test_priority_labels_from_1_to_10(n: int) -> None:
    assert labels.priority_of(f"selfheal:priority/{n}") == n


@pytest.mark.parametrize("value", ["0", "11", "01", "-1", "1 0", "ten", "", "1\u200b0", "５"])
def test_priority_labels_outside_the_range_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="from 1 to 10"):
        labels.priority_of(f"selfheal:priority/{value}")


def test_a_lookalike_priority_prefix_is_not_a_priority_label() -> None:
    assert labels.priority_of("selfheal:prio\u200brity/10") is None
    assert labels.priority_of(" selfheal:priority/10") is None
    assert labels.priority_of("priority/10") is None


def test_agent_labels() -> None:
    assert labels.agent_of("selfheal:agent/coding_agent") == "coding_agent"
    assert labels.agent_of("selfheal:agent/Claude-3.5") == "Claude-3.5"  # ids keep their case
    assert labels.agent_of("selfheal:request") is None
    for bad in ("", "a b", "a/b", "x\u202e", "x+y"):
        with pytest.raises(ValueError, match="agent id"):
            labels.agent_of(f"selfheal:agent/{bad}")
    assert labels.agent_of("selfheal:agent/" + "x" * 36) is None  # longer than GitHub allows
    assert labels.agent_label("coding_agent") == "selfheal:agent/coding_agent"
    with pytest.raises(ValueError, match="cannot be named"):
        labels.agent_label("x" * 36)  # 15 + 36 characters is over GitHub's 50
    with pytest.raises(ValueError, match="cannot be named"):
        labels.agent_label("a/b")


def _broken_renames(renames: dict[str, str]) -> list[str]:
    """Renames whose old name is still created or whose new name is not."""
    names = {spec.name.lower() for spec in label_set()}
    return [
        old
        for old in renames
        if old.lower() in names or labels.current_name(old, renames).lower() not in names
    ]


def test_the_real_renames_lead_to_labels_that_exist() -> None:
    assert _broken_renames(dict(labels.RENAMED_LABELS)) == []
    bad = {"selfheal:halt": "selfheal:stop", "selfheal:state/pr-ready": "selfheal:state/ready"}
    assert _broken_renames(bad) == ["selfheal:halt", "selfheal:state/pr-ready"]


def test_renames_are_followed_to_the_end() -> None:
    renames = {"a:one": "a:two", "A:TWO": "a:three"}
    assert labels.current_name("a:one", renames) == "a:three"
    assert labels.current_name("a:three", renames) == "a:three"
    with pytest.raises(ValueError, match="loop"):
        labels.current_name("x", {"x": "y", "y": "X"})


def test_plan_renames_creates_and_updates() -> None:
    wanted = label_set()
    by_name = _by_name()
    bot = by_name["selfheal:bot"]
    renames = {"selfheal:state/waiting": "selfheal:state/queued"}
    existing = [
        LabelSpec("selfheal:state/waiting", "ffffff", "old words"),
        LabelSpec("selfheal:halt", "000000", by_name["selfheal:halt"].description),
        by_name["selfheal:request"],
        LabelSpec("SELFHEAL:BOT", bot.color.upper(), bot.description),  # case aside, the same
        LabelSpec("bug", "d73a4a", "Something isn't working"),
    ]
    plan = labels.plan_labels(existing, wanted, renames)
    assert plan.rename == (("selfheal:state/waiting", by_name["selfheal:state/queued"]),)
    assert plan.update == (by_name["selfheal:halt"],)
    created = {spec.name for spec in plan.create}
    assert created == {spec.name for spec in wanted} - {
        "selfheal:state/queued", "selfheal:halt", "selfheal:request", "selfheal:bot"
    }  # fmt: skip


def test_plan_does_not_rename_an_old_label_when_the_new_one_exists() -> None:
    queued = _by_name()["selfheal:state/queued"]
    existing = [LabelSpec("Selfheal:State/Waiting", "ffffff", "old"), queued]
    plan = labels.plan_labels(existing, [queued], {"selfheal:state/waiting": queued.name})
    # not renamed onto the existing label: listed for deletion where no issue carries it
    assert plan == labels.LabelPlan(rename=(), create=(), update=(),
                                    leftover=("Selfheal:State/Waiting",))  # fmt: skip
    alone = labels.plan_labels([queued], [queued], {"selfheal:state/waiting": queued.name})
    assert alone == labels.LabelPlan(rename=(), create=(), update=())


def test_a_configured_halt_label_replaces_the_default_in_the_plan() -> None:
    plan = labels.plan_labels([], label_set("ops:stop-bot"))
    names = [spec.name for spec in plan.create]
    assert "ops:stop-bot" in names and labels.HALT_LABEL not in names
