"""Who may file, label and edit a change request (pure; the roles come from the caller).

Roles are GitHub's repository roles (``role_name`` of the collaborator permission API: admin,
maintain, write, triage, read, or none for someone without access). *Writers* have write,
maintain or admin; *maintainers* have maintain or admin. selfheal's own App counts as a writer
for the requests it files.

A request proceeds only if BOTH the issue's author and whoever applied ``selfheal:request``
are writers or the App. The issue form applies the label on behalf of the author, and so does
anyone who opens an issue with the label already on it: the author counts as the labeller
then. So an outsider's issue never becomes a request, even when a maintainer labels it, and
text from people without write access never reaches a coder.

After that, an edit by someone who is not a writer does not change the request (the caller
keeps the text of the last accepted edit), and label changes are checked one by one: only the
App sets ``selfheal:approved``, the state labels and ``selfheal:bot``; only writers change the
type, priority or agent. A refused label change is reverted and audited by the caller.

Every decision carries the reason, written for the comment that explains a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from selfheal.model.labels import (
    AGENT_PREFIX,
    APPROVED_LABEL,
    BOT_LABEL,
    MONITOR_LABEL,
    PRIORITY_PREFIX,
    REQUEST_LABEL,
    STATE_PREFIX,
    TYPE_PREFIX,
)

WRITER_ROLES = frozenset({"admin", "maintain", "write"})
MAINTAINER_ROLES = frozenset({"admin", "maintain"})


@dataclass(frozen=True)
class Actor:
    login: str
    role: str = "none"  # the repository role; anything unknown counts as no access
    is_app: bool = False  # selfheal's own bot account

    @property
    def is_writer(self) -> bool:
        return self.is_app or self.role.lower() in WRITER_ROLES

    @property
    def is_maintainer(self) -> bool:
        return self.is_app or self.role.lower() in MAINTAINER_ROLES

    def describe(self) -> str:
        if self.is_app:
            return f"@{self.login} (selfheal)"
        return f"@{self.login} (role: {self.role or 'none'})"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def decide_request(author: Actor, labeller: Actor | None = None) -> Decision:
    """Whether a labelled issue becomes a request. ``labeller`` applied ``selfheal:request``;
    None when the label came with the issue as it was opened (the issue form), when the
    author counts as the labeller."""
    labeller = labeller or author
    refusals = []
    if not author.is_writer:
        refusals.append(f"the issue's author, {author.describe()}")
    if not labeller.is_writer and labeller != author:
        refusals.append(f"{labeller.describe()}, who applied {REQUEST_LABEL}")
    if refusals:
        verb = "does" if len(refusals) == 1 else "do"
        return Decision(
            False,
            "selfheal acts only on requests that people with write access (write, maintain or "
            f"admin) file and label; {', and '.join(refusals)}, {verb} not have it. A writer who "
            "wants this change can file their own request.",
        )
    if labeller == author:
        return Decision(True, f"{author.describe()} filed and labelled the request")
    return Decision(
        True, f"{author.describe()} filed the request and {labeller.describe()} labelled it"
    )


ACTIONS_BOT = "github-actions[bot]"
# The hidden marker of a monitor issue (selfheal.monitor.issue writes it).
MONITOR_MARKER = "<!-- selfheal:monitor fingerprint="


def monitor_issue_author(author: Actor, labeller: Actor | None, body: str | None) -> Actor:
    """The Action's monitor mode files plain issues as ``github-actions[bot]`` (it has only
    the workflow's ``GITHUB_TOKEN``). Such an issue that carries the monitor marker counts as
    written by the App once a maintainer applied ``selfheal:request``; a label that came with
    the issue, or one a writer or the Action itself applied, changes nothing."""
    if (
        author.login.lower() == ACTIONS_BOT
        and MONITOR_MARKER in (body or "")
        and labeller is not None
        and labeller.login.lower() != ACTIONS_BOT
        and labeller.is_maintainer
    ):
        return Actor(author.login, "admin", is_app=True)
    return author


def decide_edit(editor: Actor) -> Decision:
    """Whether an edit of the issue changes the request."""
    if editor.is_writer:
        return Decision(True, f"edited by {editor.describe()}")
    return Decision(
        False,
        f"the edit by {editor.describe()} does not change the request: only writers' edits "
        "count, and the request stays as a writer last left it",
    )


def honours_machine_block(author: Actor) -> bool:
    """The App's machine block counts only in an issue the App itself filed."""
    return author.is_app


_APP_ONLY = {
    APPROVED_LABEL: "only selfheal sets it, after an owner approves with `/selfheal approve`",
    BOT_LABEL: "only selfheal marks its own pull requests",
    MONITOR_LABEL: "only selfheal's monitor files such requests",
}
_WRITERS = {TYPE_PREFIX: "type", PRIORITY_PREFIX: "priority", AGENT_PREFIX: "coding agent"}


def decide_label(label: str, actor: Actor, *, added: bool = True) -> Decision | None:
    """Whether ``actor`` may add (or remove) ``label`` on a request; None for a label this
    module does not govern (the halt label has its own rules). A refusal is reverted."""
    lowered = label.lower()
    verb = "add" if added else "remove"
    if lowered in _APP_ONLY or lowered.startswith(STATE_PREFIX):
        if actor.is_app:
            return Decision(True, f"selfheal changed {label}")
        why = _APP_ONLY.get(lowered, "only selfheal shows a request's state")
        return Decision(False, f"{actor.describe()} may not {verb} {label}: {why}")
    what = next((name for prefix, name in _WRITERS.items() if lowered.startswith(prefix)), None)
    if lowered == REQUEST_LABEL:
        what = "request"
    if what is None:
        return None
    if actor.is_writer:
        return Decision(True, f"{actor.describe()} may change the {what} label")
    return Decision(
        False, f"{actor.describe()} may not {verb} {label}: only writers change a request's {what}"
    )
