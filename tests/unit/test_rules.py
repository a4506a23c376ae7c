"""The bundled semgrep rules: `semgrep --test` passes, and every rule keeps the metadata contract.

The structural checks read the YAML directly (fast); the annotation check runs semgrep's own
test mode once for the whole rules/ folder, and once on a deliberately broken copy to prove a
wrong annotation makes the run fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from selfheal.model.findings import Category, Severity
from selfheal.scanner.semgrep import find_semgrep
from tests.support.paths import ROOT
from tests.support.rules import (
    RULE_FILES,
    RULES,
    all_rules,
    assert_rule_files_present,
    fixed_test_files,
    has_fix,
    load_rules,
)

PREFIX_BY_LANGUAGE = {
    "python": "python-",
    "javascript": "js-",
    "typescript": "js-",
    "bash": "shell-",
    "yaml": "yaml-",
}
CATEGORIES = {"injection", "dangerous-code", "crypto", "insecure-config"}
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
CWE_ENTRY = re.compile(r"^CWE-\d+: \S")
OWASP_ENTRY = re.compile(r"^A(0[1-9]|10):2021 - \S")
ANNOTATION = re.compile(r"(?:#|//)\s*(ruleid|ok|todoruleid|todook):\s*([\w\-, ]+)")
TEST_SUFFIXES = {".py", ".js", ".jsx", ".ts", ".tsx", ".sh", ".workflow"}


def semgrep_test(target: Path) -> tuple[int, dict[str, Any]]:
    argv = [find_semgrep(), "--test", "--json", "--metrics=off", "--disable-version-check"]
    done = subprocess.run(
        [*argv, str(target.resolve())],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return done.returncode, json.loads(done.stdout)


def sibling_tests(rule_file: Path) -> list[Path]:
    """<name>.py/.js/.ts/.jsx/.sh/.workflow next to <name>.yaml."""
    return sorted(
        p
        for p in rule_file.parent.iterdir()
        if p.stem == rule_file.stem and p.suffix in TEST_SUFFIXES
    )


def annotations_in(test_file: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"ruleid": set(), "ok": set()}
    for match in ANNOTATION.finditer(test_file.read_text()):
        kind = match.group(1).removeprefix("todo")
        found[kind].update(i.strip() for i in match.group(2).split(",") if i.strip())
    return found


@pytest.fixture(scope="session")
def semgrep_test_report() -> tuple[int, dict[str, Any]]:
    return semgrep_test(RULES)


def test_there_are_rules_for_each_language() -> None:
    languages = {lang for _, rule in all_rules() for lang in rule["languages"]}
    assert {"python", "javascript", "typescript", "bash", "yaml"} <= languages
    assert len(list(all_rules())) >= 50


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: str(p.relative_to(RULES)))
def test_every_rule_file_has_a_sibling_test_file(rule_file: Path) -> None:
    assert sibling_tests(rule_file), f"{rule_file} has no test file with the same name"


def test_rule_ids_are_unique_kebab_case_and_prefixed() -> None:
    seen: dict[str, Path] = {}
    for path, rule in all_rules():
        rule_id = rule["id"]
        assert RULE_ID.match(rule_id), rule_id
        assert rule_id not in seen, f"{rule_id} in both {seen.get(rule_id)} and {path}"
        seen[rule_id] = path
        prefixes = {PREFIX_BY_LANGUAGE[lang] for lang in rule["languages"]}
        assert len(prefixes) == 1 and rule_id.startswith(prefixes.pop()), rule_id


def test_every_rule_meets_the_metadata_contract() -> None:
    for _, rule in all_rules():
        rule_id = rule["id"]
        assert rule.get("message", "").strip(), rule_id
        assert rule.get("severity") in {"ERROR", "WARNING", "INFO"}, rule_id
        meta = rule.get("metadata") or {}
        assert meta.get("cwe") and all(CWE_ENTRY.match(c) for c in meta["cwe"]), rule_id
        assert meta.get("owasp") and all(OWASP_ENTRY.match(o) for o in meta["owasp"]), rule_id
        assert meta.get("category") in CATEGORIES, rule_id
        assert Category(meta["category"])  # every category maps onto the shared model
        assert meta.get("confidence") in {"low", "medium", "high"}, rule_id
        if "selfheal-severity" in meta:
            Severity.parse(meta["selfheal-severity"])


def test_every_rule_has_positive_and_negative_test_cases() -> None:
    assert_rule_files_present()
    for path in RULE_FILES:
        marked: dict[str, set[str]] = {"ruleid": set(), "ok": set()}
        for test_file in sibling_tests(path):
            for kind, ids in annotations_in(test_file).items():
                marked[kind] |= ids
        for rule in load_rules(path):
            assert rule["id"] in marked["ruleid"], f"{rule['id']}: no `ruleid:` test line"
            assert rule["id"] in marked["ok"], f"{rule['id']}: no `ok:` test line"


@pytest.mark.parametrize("language", ["python", "javascript"])
@pytest.mark.parametrize("label", ["REQUEST", "INPUT"])
def test_shared_source_blocks_are_identical_everywhere(language: str, label: str) -> None:
    """Request and input source blocks are copied into each taint rule; copies must not drift."""
    blocks = {
        json.dumps(source, sort_keys=True)
        for _, rule in all_rules()
        if language in rule["languages"]
        for source in rule.get("pattern-sources", [])
        if source.get("label") == label
    }
    assert len(blocks) == 1


def test_semgrep_test_mode_passes(semgrep_test_report: tuple[int, dict[str, Any]]) -> None:
    code, report = semgrep_test_report
    assert report["config_with_errors"] == []
    assert report["config_missing_tests"] == []
    failures = []
    checked = set()
    for result in report["results"].values():
        for rule_id, check in result.get("checks", {}).items():
            checked.add(rule_id)
            for target, match in check["matches"].items():
                if match["expected_lines"] != match["reported_lines"]:
                    failures.append((rule_id, target, match))
    assert failures == []
    assert checked == {rule["id"] for _, rule in all_rules()}
    assert code == 0


def test_every_autofix_is_checked_by_a_fix_test(
    semgrep_test_report: tuple[int, dict[str, Any]],
) -> None:
    """A rule with `fix:` or `fix-regex:` has a <name>.fixed.<ext> file, semgrep compared it
    with the test file after applying the fixes, and it matched."""
    _, report = semgrep_test_report
    assert report["config_missing_fixtests"] == []
    with_fixes = [path for path in RULE_FILES if any(has_fix(r) for r in load_rules(path))]
    assert len(with_fixes) >= 3  # deserialization, crypto, command-injection at least
    expected = set()
    for path in with_fixes:
        fixed = fixed_test_files(path)
        assert fixed, f"{path} has a fix but no {path.stem}.fixed.* file"
        for fixed_file in fixed:
            original = fixed_file.with_name(path.stem + fixed_file.suffix)
            assert original.is_file(), fixed_file
            # The fix test proves something only when the fixes change the file.
            assert fixed_file.read_text() != original.read_text(), fixed_file
            expected.add(str(original.resolve()))
    results = report["fixtest_results"]
    assert set(results) == expected
    assert all(result["passed"] for result in results.values()), results
    # Fixed files belong only to rule files that have fixes.
    strays = [f for path in RULE_FILES if path not in with_fixes for f in fixed_test_files(path)]
    assert strays == []


def test_a_wrong_annotation_fails_semgrep_test(tmp_path: Path) -> None:
    copy = tmp_path / "rules" / "shell"
    copy.mkdir(parents=True)
    shutil.copy(RULES / "shell" / "dangerous.yaml", copy)
    text = (RULES / "shell" / "dangerous.sh").read_text()
    assert "# ok: shell-chmod-world-writable\nchmod 755" in text
    broken = text.replace(
        "# ok: shell-chmod-world-writable\nchmod 755",
        "# ruleid: shell-chmod-world-writable\nchmod 755",
    )
    (copy / "dangerous.sh").write_text(broken)
    code, report = semgrep_test(copy.parent)
    assert code != 0
    (result,) = report["results"].values()
    match = result["checks"]["shell-chmod-world-writable"]["matches"]
    (lines,) = match.values()
    assert set(lines["expected_lines"]) - set(lines["reported_lines"])


def test_a_wrong_fixed_file_fails_semgrep_test(tmp_path: Path) -> None:
    """semgrep --test really compares the fixed file: one that keeps the unsafe call fails."""
    copy = tmp_path / "rules" / "python"
    copy.mkdir(parents=True)
    for name in ("deserialization.yaml", "deserialization.py"):
        shutil.copy(RULES / "python" / name, copy)
    fixed = (RULES / "python" / "deserialization.fixed.py").read_text()
    assert "unsafe = yaml.safe_load(text)" in fixed
    (copy / "deserialization.fixed.py").write_text(
        fixed.replace("unsafe = yaml.safe_load(text)", "unsafe = yaml.load(text)")
    )
    code, report = semgrep_test(copy.parent)
    assert code != 0
    ((target, result),) = report["fixtest_results"].items()
    assert target.endswith("deserialization.py") and result["passed"] is False


def test_docs_list_every_rule() -> None:
    docs = (ROOT / "docs" / "rules.md").read_text()
    missing = [rule["id"] for _, rule in all_rules() if f"`{rule['id']}`" not in docs]
    assert missing == []
    assert all(f"| B{n} " in docs for n in (101, 201, 301, 501, 601, 608, 701, 704))
