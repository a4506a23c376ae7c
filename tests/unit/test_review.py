"""End-to-end reviews of real pygit2 ranges: policy, secrets, code rules, dependencies.

One repository is built per module with a branch per scenario. Only the scenarios that need
semgrep run it (full scanner set); the others restrict the scanners to save CPU.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from selfheal.model.findings import Category, Decision, Risk, Verdict
from selfheal.model.policy import Policy, PolicyError, load_effective_policy
from selfheal.reviewer.changeset import changeset_from_paths
from selfheal.reviewer.diffparse import changeset_from_diff
from selfheal.reviewer.gitchanges import changeset_from_git
from selfheal.reviewer.reviewer import ReviewOptions, policy_at, review, review_range
from selfheal.scanner.engine import ScanOptions
from tests.support.review_repo import GitRepo

NO_SEMGREP = ScanOptions(scanners=frozenset({"secrets", "dependencies"}))
REPO_POLICY = "# repo policy\n/core/   review @org/core\n/src/auth/ protected @org/sec\n"
APP = "import os\n\n\ndef greet(name: str) -> str:\n    return 'hello ' + name\n"
# Already in the base: an unsafe query on line 5 that a review of the change must NOT report.
DB = (
    "import sqlite3\n"
    "\n"
    "\n"
    "def legacy(cur, name):\n"
    "    cur.execute(\"SELECT * FROM users WHERE name = '%s'\" % name)\n"
    "    return cur.fetchall()\n"
)
DB_CHANGED = DB + (
    "\n"
    "\n"
    "def find_user(cur, username):\n"
    "    cur.execute(f\"SELECT * FROM users WHERE name = '{username}'\")\n"  # line 10
    "    return cur.fetchall()\n"
)
# A GitHub-format token, built at runtime so no secret-shaped literal lives in the repo.
TOKEN = "ghp_" + hashlib.sha256(b"selfheal review test").hexdigest()[:36]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("review") / "repo")
    base = repo.commit(
        {
            ".github/selfheal.policy": REPO_POLICY,
            "src/app.py": APP,
            "src/db.py": DB,
            "src/auth/login.py": "def login():\n    return True\n",
            "core/engine.py": "VALUE = 1\n",
            "requirements.txt": "requests==2.32.3\n",
            "certs/server.pem": "not really a key\n",
        },
        "base",
    )
    repo.branch("base", base)
    scenarios: dict[str, dict[str, str | bytes | None]] = {
        "unsafe": {
            "src/settings.py": f'import os\n\nGITHUB_TOKEN = "{TOKEN}"\nDEBUG = False\n',
            "src/db.py": DB_CHANGED,
        },
        "clean": {
            "src/app.py": APP + "\n\ndef shout(name: str) -> str:\n    return name.upper()\n"
        },
        "workflow": {
            ".github/workflows/x.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        },
        "protected": {"src/auth/login.py": "def login():\n    return False\n"},
        "review": {"core/engine.py": "VALUE = 2\n"},
        "deps": {"requirements.txt": "requests==2.32.3\njinja2==2.10\n"},
        "delete-key": {"certs/server.pem": None},
        "relax-policy": {".github/selfheal.policy": "* open\n", "core/engine.py": "VALUE = 3\n"},
    }
    for name, files in scenarios.items():
        repo.branch(name, repo.commit(files, name, parent=base, ref=None))
    return repo


@pytest.fixture(scope="module")
def policy(repo: GitRepo) -> Policy:
    return load_effective_policy(REPO_POLICY)


def _review(
    repo: GitRepo,
    branch: str,
    policy: Policy,
    *,
    actor: str = "automation",
    scan: ScanOptions = NO_SEMGREP,
) -> Verdict:
    changes = changeset_from_git(repo.path, "base", branch)
    return review(changes, policy, options=ReviewOptions(actor_kind=actor, scan=scan))


def test_leaked_key_and_sql_injection_block_on_their_lines(repo: GitRepo, policy: Policy) -> None:
    verdict = _review(repo, "unsafe", policy, scan=ScanOptions())
    assert (verdict.decision, verdict.risk) == (Decision.BLOCK, Risk.CRITICAL)
    assert not [f for f in verdict.findings if f.category is Category.SCANNER_ERROR]
    secrets = [f for f in verdict.findings if f.category is Category.SECRET]
    assert [(f.path, f.line) for f in secrets] == [("src/settings.py", 3)]
    injections = [f for f in verdict.findings if f.category is Category.INJECTION]
    # Only the added query on line 10; the base's legacy query on line 5 is not reported.
    assert {(f.path, f.line) for f in injections} == {("src/db.py", 10)}
    assert all("CWE-89" in f.cwe for f in injections)
    rendered = json.dumps(verdict.to_dict())
    assert TOKEN not in rendered  # redacted everywhere
    assert TOKEN[:4] in secrets[0].snippet
    assert verdict.reasons[0].startswith("1 secret in added lines (src/settings.py:3)")


def test_clean_change_is_approved_by_the_full_scanner_set(repo: GitRepo, policy: Policy) -> None:
    verdict = _review(repo, "clean", policy, scan=ScanOptions())
    assert verdict.decision is Decision.APPROVE, verdict.reasons
    assert verdict.risk is Risk.LOW
    assert verdict.findings == ()


def test_workflow_change_needs_approval_from_a_person(repo: GitRepo, policy: Policy) -> None:
    human = _review(repo, "workflow", policy, actor="human")
    assert human.decision is Decision.NEEDS_APPROVAL
    categories = sorted(f.category.value for f in human.findings)
    assert categories == ["protected-path", "sensitive-change"]
    automation = _review(repo, "workflow", policy)
    assert automation.decision is Decision.BLOCK


def test_protected_path_blocks_automation_and_names_owners(repo: GitRepo, policy: Policy) -> None:
    verdict = _review(repo, "protected", policy)
    assert (verdict.decision, verdict.risk) == (Decision.BLOCK, Risk.HIGH)
    (finding,) = verdict.findings
    assert finding.category is Category.PROTECTED_PATH
    assert finding.path == "src/auth/login.py"
    assert finding.properties["owners"] == ["@org/sec"]
    assert finding.properties["policy"] == ".github/selfheal.policy:3"


def test_review_path_needs_owner_approval(repo: GitRepo, policy: Policy) -> None:
    verdict = _review(repo, "review", policy)
    assert (verdict.decision, verdict.risk) == (Decision.NEEDS_APPROVAL, Risk.MEDIUM)
    assert "(owners: @org/core)" in verdict.reasons[0]


def test_vulnerable_pin_on_a_changed_line(repo: GitRepo, policy: Policy) -> None:
    verdict = _review(repo, "deps", policy)
    deps = [f for f in verdict.findings if f.category is Category.DEPENDENCY]
    assert deps and {(f.path, f.line) for f in deps} == {("requirements.txt", 2)}
    assert verdict.decision is Decision.BLOCK  # high-severity advisories
    assert any("CVE-2019-10906" in f.message for f in deps)


def test_deleting_a_protected_file_is_a_change_to_it(repo: GitRepo, policy: Policy) -> None:
    verdict = _review(repo, "delete-key", policy)
    assert verdict.decision is Decision.BLOCK
    (finding,) = verdict.findings
    assert (finding.path, finding.properties["status"]) == ("certs/server.pem", "deleted")
    assert "deletes certs/server.pem" in finding.message


def test_policy_edit_is_protected_and_sensitive(repo: GitRepo, policy: Policy) -> None:
    verdict = _review(repo, "relax-policy", policy, actor="human")
    rules = {(f.category.value, f.path) for f in verdict.findings}
    assert rules == {
        ("protected-path", ".github/selfheal.policy"),
        ("sensitive-change", ".github/selfheal.policy"),
        ("review-path", "core/engine.py"),
    }
    assert verdict.decision is Decision.NEEDS_APPROVAL


def test_scanner_failure_fails_closed(repo: GitRepo, policy: Policy, tmp_path: Path) -> None:
    broken = ScanOptions(
        scanners=frozenset({"dependencies"}), advisories=tmp_path / "no-such-advisories.zip"
    )
    verdict = _review(repo, "deps", policy, scan=broken)
    assert verdict.decision is Decision.BLOCK
    assert [f.category for f in verdict.findings] == [Category.SCANNER_ERROR]
    assert verdict.reasons[0].startswith("A scanner could not complete")


def test_unparseable_policy_blocks() -> None:
    with pytest.raises(PolicyError) as info:
        load_effective_policy("src/ sometimes\n")
    verdict = review(changeset_from_paths(["README.md"]), info.value)
    assert verdict.decision is Decision.BLOCK
    assert ".github/selfheal.policy:1: error: unknown level 'sometimes'" in verdict.reasons[0]


def test_target_paths_are_reviewed_before_any_code_exists(policy: Policy) -> None:
    changes = changeset_from_paths(["src/app.py", ".env.production", "core/engine.py"])
    verdict = review(changes, policy)
    assert verdict.decision is Decision.BLOCK
    assert {(f.category.value, f.path) for f in verdict.findings} == {
        ("protected-path", ".env.production"),
        ("review-path", "core/engine.py"),
    }
    assert "targets .env.production" in verdict.findings[0].message
    ok = review(changeset_from_paths(["src/app.py"]), policy)
    assert ok.decision is Decision.APPROVE


def test_review_range_uses_the_base_policy_and_fails_closed_on_a_bad_one(
    repo: GitRepo, tmp_path: Path
) -> None:
    options = ReviewOptions(scan=NO_SEMGREP)
    # relax-policy sets "* open" on its head; the base policy still makes core/ review-level.
    verdict = review_range(repo.path, "base", "relax-policy", options=options)
    assert ("review-path", "core/engine.py") in {
        (f.category.value, f.path) for f in verdict.findings
    }
    broken = GitRepo(tmp_path / "broken")
    base = broken.commit({".github/selfheal.policy": "/src/ review\n!/src/x open\n"})
    broken.branch("base", base)
    broken.commit({"src/a.py": "A = 1\n"})
    assert isinstance(policy_at(broken.path, "base"), PolicyError)
    blocked = review_range(broken.path, "base", "main", options=options)
    assert blocked.decision is Decision.BLOCK
    assert ".github/selfheal.policy:2: error: bad pattern '!/src/x'" in blocked.reasons[0]


def test_diff_fragments_of_dependency_files(policy: Policy) -> None:
    diff = (
        "diff --git a/requirements.txt b/requirements.txt\n"
        "--- a/requirements.txt\n+++ b/requirements.txt\n"
        "@@ -4,2 +4,3 @@\n requests==2.32.3\n+jinja2==2.10\n click==8.1.7\n"
        "diff --git a/pyproject.toml b/pyproject.toml\n"
        "--- a/pyproject.toml\n+++ b/pyproject.toml\n"
        '@@ -8,3 +8,3 @@ dependencies = [\n   "requests>=2.31",\n-  "jinja2==3.1.4",\n'
        '+  "jinja2==2.10",\n   "click>=8",\n'
    )
    changes = changeset_from_diff(diff)
    verdict = review(changes, policy, options=ReviewOptions(scan=NO_SEMGREP))
    assert not [f for f in verdict.findings if f.category is Category.SCANNER_ERROR]
    # A requirements fragment is line-based: the new pin is checked, on its real line.
    deps = {(f.path, f.line) for f in verdict.findings if f.category is Category.DEPENDENCY}
    assert deps == {("requirements.txt", 5)}
    # A TOML fragment cannot be parsed: reported as not checked, never silently passed.
    assert [p for p, _ in verdict.skipped] == ["pyproject.toml"]
    assert verdict.decision is Decision.BLOCK
