"""The community secret engine (Kingfisher) in the one scan pipeline.

Real Kingfisher runs once per module over a small generated tree (tokens are generated at
run time by tests/support/secret_corpus.py: the repository holds none). Stand-in executables
(small shell scripts) play an engine that crashes, hangs, or prints something other than its
JSON report: each must leave the scan incomplete (a gate fails closed) while our own
detector's findings are still reported.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest

from selfheal.model.findings import Severity
from selfheal.scanner import ScannerError, secret_engine
from selfheal.scanner.baseline import Baseline
from selfheal.scanner.engine import ScanOptions, ScanReport, ScanTarget, scan_path, scan_targets
from selfheal.scanner.secret_engine import EngineHit, command, locate, parse_report
from selfheal.scanner.secret_merge import ENGINE_RULE_PREFIX, merge_file
from selfheal.scanner.secrets import scan_secrets
from tests.support.secret_corpus import FORMATS

SECRETS_ONLY = frozenset({"secrets"})
RNG = random.Random(11)
GITHUB = FORMATS["github-classic"][1](RNG)  # both detectors know it
DYNATRACE = FORMATS["dynatrace"][1](RNG)  # only the engine knows it
STRIPE_EXAMPLE = "sk_live_EXAMPLE" + "Ab3dE6gH9jK2mN5pQ8sT"  # a documented-example shape
needs_kingfisher = pytest.mark.skipif(
    locate("auto") is None, reason="kingfisher-bin has no wheel for this platform"
)


def _tree(root: Path) -> Path:
    root.mkdir()
    (root / "settings.py").write_text(
        f'GITHUB_TOKEN = "{GITHUB}"\n'
        f'client = connect("{DYNATRACE}")\n'
        f'ALLOWED = "{DYNATRACE[:-4]}ZZZZ"  # selfheal: allow-secret\n'
        f'STRIPE = "{STRIPE_EXAMPLE}"\n',
        encoding="utf-8",
    )
    return root


def _script(folder: Path, body: str) -> Path:
    path = folder / "fake-kingfisher"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kingfisher-cache")


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> ScanReport:
    if locate("auto") is None:
        pytest.skip("kingfisher-bin has no wheel for this platform")
    root = _tree(tmp_path_factory.mktemp("engine") / "tree")
    options = ScanOptions(scanners=SECRETS_ONLY, secret_engine="kingfisher")
    options.secret_engine_cache = cache
    return scan_path(root, options)


# --- the real engine -------------------------------------------------------------------


@needs_kingfisher
def test_one_finding_per_secret_with_both_engines_named(real: ScanReport) -> None:
    assert real.complete, real.errors
    github = [f for f in real.findings if f.line == 1]
    assert len(github) == 1
    assert github[0].rule_id == "secret-github-token"  # ours: existing baselines stay valid
    assert github[0].properties["engines"] == ["kingfisher", "selfheal"]
    assert github[0].severity is Severity.CRITICAL


@needs_kingfisher
def test_engine_adds_formats_ours_lacks(real: ScanReport) -> None:
    assert scan_secrets("settings.py", f'client = connect("{DYNATRACE}")\n') == []
    line2 = [f for f in real.findings if f.line == 2]
    assert len(line2) == 1 and line2[0].rule_id.startswith(ENGINE_RULE_PREFIX)
    assert line2[0].properties["engines"] == ["kingfisher"]


@needs_kingfisher
def test_our_filters_apply_to_the_engine(real: ScanReport) -> None:
    lines = {f.line for f in real.findings}
    assert 3 not in lines  # the allow comment
    assert 4 not in lines  # a documented EXAMPLE value
    assert lines == {1, 2}


@needs_kingfisher
def test_no_field_holds_a_whole_secret(real: ScanReport) -> None:
    dumped = json.dumps([f.to_dict() for f in real.findings])
    assert GITHUB not in dumped and DYNATRACE not in dumped
    assert DYNATRACE[:4] + "*" in dumped  # our redaction


@needs_kingfisher
def test_cache_stays_in_the_given_folder(real: ScanReport, cache: Path) -> None:
    assert any(cache.iterdir())


def test_an_empty_cache_is_seeded_from_a_warm_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret_engine, "_warm", [])  # the real caches stay untouched
    warm, empty, full = tmp_path / "warm", tmp_path / "empty", tmp_path / "full"
    for folder in (warm, empty, full):
        folder.mkdir()
    (warm / "0123abcd.vscdb").write_bytes(b"compiled rules")
    (full / "ffff.vscdb").write_bytes(b"its own")
    secret_engine._remember(warm)
    secret_engine._seed(empty)
    secret_engine._seed(full)
    assert (empty / "0123abcd.vscdb").read_bytes() == b"compiled rules"
    assert [p.name for p in full.iterdir()] == ["ffff.vscdb"]  # a warm cache is left alone
    assert not list(empty.glob(".*.partial"))


@needs_kingfisher
def test_baseline_and_changed_lines_apply_to_engine_findings(
    tmp_path: Path, real: ScanReport, cache: Path
) -> None:
    engine_only = [f for f in real.findings if f.line == 2]
    baseline = tmp_path / "baseline.json"
    Baseline.from_findings(engine_only).save(baseline)
    root = _tree(tmp_path / "tree")
    options = ScanOptions(scanners=SECRETS_ONLY, baseline=baseline, secret_engine_cache=cache)
    assert {f.line for f in scan_path(root, options).findings} == {1}
    target = ScanTarget("settings.py", (root / "settings.py").read_bytes(), frozenset({2}))
    only_two = scan_targets([target], ScanOptions(scanners=SECRETS_ONLY, secret_engine_cache=cache))
    assert [f.line for f in only_two.findings] == [2]


@needs_kingfisher
def test_a_whole_tree_is_walked_hidden_and_ignored_files_included(
    tmp_path: Path, cache: Path
) -> None:
    root = tmp_path / "big"
    root.mkdir()
    for i in range(secret_engine.EXPLICIT_TARGETS + 6):
        (root / f"m{i}.py").write_text(f"value = {i}\n")
    line = f'client = connect("{DYNATRACE}")\n'
    (root / ".hidden.py").write_text(line)
    (root / ".gitignore").write_text("ignored.py\n")
    (root / "ignored.py").write_text(line)
    (root / "marked.py").write_text(line.rstrip() + "  # kingfisher:ignore\n")
    report = scan_path(root, ScanOptions(scanners=SECRETS_ONLY, secret_engine_cache=cache))
    assert report.complete, report.errors
    found = {(f.path, f.rule_id.startswith(ENGINE_RULE_PREFIX)) for f in report.findings}
    assert found == {(".hidden.py", True), ("ignored.py", True), ("marked.py", True)}


# --- failures fail closed --------------------------------------------------------------


def _with(tmp_path: Path, executable: Path, timeout: float = 30.0) -> ScanReport:
    root = _tree(tmp_path / "tree")
    options = ScanOptions(scanners=SECRETS_ONLY, secret_engine_executable=executable)
    options.secret_engine_timeout = timeout
    options.secret_engine_cache = tmp_path / "cache"
    return scan_path(root, options)


def _closed_but_ours_kept(report: ScanReport, expected: str) -> None:
    assert not report.complete
    assert any(expected in error for error in report.errors), report.errors
    assert [f.rule_id for f in report.findings] == ["secret-github-token"]


def test_absent_binary_when_required_fails_closed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    options = ScanOptions(scanners=SECRETS_ONLY, secret_engine="kingfisher")
    options.secret_engine_executable = tmp_path / "no-such-kingfisher"
    _closed_but_ours_kept(scan_path(root, options), "not installed")


def test_absent_binary_by_default_falls_back_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret_engine, "_packaged_binary", lambda: None)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    report = scan_path(_tree(tmp_path / "tree"), ScanOptions(scanners=SECRETS_ONLY))
    assert report.complete
    assert any("Kingfisher engine is not installed" in w for w in report.warnings)
    assert [f.rule_id for f in report.findings] == ["secret-github-token"]
    builtin = ScanOptions(scanners=SECRETS_ONLY, secret_engine="builtin")
    assert scan_path(_tree(tmp_path / "again"), builtin).warnings == []


def test_crashing_binary_fails_closed(tmp_path: Path) -> None:
    fake = _script(tmp_path, "echo 'thread main panicked' >&2\nexit 101")
    _closed_but_ours_kept(_with(tmp_path, fake), "kingfisher failed (exit 101)")


def test_binary_killed_by_a_signal_fails_closed(tmp_path: Path) -> None:
    fake = _script(tmp_path, "kill -SEGV $$")
    _closed_but_ours_kept(_with(tmp_path, fake), "kingfisher failed (exit -11)")


def test_hanging_binary_times_out_and_fails_closed(tmp_path: Path) -> None:
    fake = _script(tmp_path, "sleep 60")
    started = time.monotonic()
    report = _with(tmp_path, fake, timeout=1.0)
    assert time.monotonic() - started < 30
    _closed_but_ours_kept(report, "did not finish within 1 s")


def test_output_that_is_not_json_fails_closed(tmp_path: Path) -> None:
    fake = _script(tmp_path, "echo '<html>rate limited</html>'\nexit 0")
    _closed_but_ours_kept(_with(tmp_path, fake), "not valid JSON")


def test_json_that_is_not_the_report_fails_closed(tmp_path: Path) -> None:
    fake = _script(tmp_path, "echo '{\"results\": []}'\nexit 200")
    _closed_but_ours_kept(_with(tmp_path, fake), "no 'findings' list")


def test_environment_and_arguments_keep_the_engine_offline(tmp_path: Path) -> None:
    # The stand-in prints its arguments and environment as the engine's "snippet".
    fake = _script(
        tmp_path,
        'printf \'{"findings": [], "argv": "%s", "home": "%s", "token": "%s"}\' '
        '"$*" "$HOME" "$GITHUB_TOKEN" > "$HOME/seen.json"\necho \'{"findings": []}\'',
    )
    root = _tree(tmp_path / "tree")
    options = ScanOptions(scanners=SECRETS_ONLY, secret_engine_executable=fake)
    options.secret_engine_cache = tmp_path / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_TOKEN", GITHUB)
        assert scan_path(root, options).complete
    seen = json.loads((tmp_path / "cache" / "seen.json").read_text())
    flags = ("--no-update-check", "--no-validate", "--git-history none", "--no-dedup")
    for flag in (*flags, "--no-ignore"):
        assert flag in seen["argv"]
    assert seen["home"] == str(tmp_path / "cache") and seen["token"] == ""
    assert seen["argv"].endswith("-- settings.py")


# --- pure parts ------------------------------------------------------------------------


def test_command_ends_options_before_targets() -> None:
    argv = command(Path("/bin/kf"), Path("/c"), ["--config"])
    assert argv[-2:] == ["--", "--config"] and "--rule-cache-dir" in argv


@pytest.mark.parametrize(
    "text", ["[]", '{"findings": {}}', '{"findings": [1]}', '{"findings": [{"rule": 1}]}']
)
def test_malformed_reports_raise(text: str) -> None:
    with pytest.raises(ScannerError):
        parse_report(text, Path("/r"))


def test_entries_without_a_location_are_dropped() -> None:
    report = {"findings": [{"rule": {"id": "x"}, "finding": {"path": "a", "line": 0}}]}
    assert parse_report(json.dumps(report), Path("/r")) == []


def test_unknown_engine_name_is_an_error() -> None:
    with pytest.raises(ScannerError, match="unknown secret engine"):
        locate("trufflehog")


def test_a_secret_found_encoded_never_shows_its_line() -> None:
    encoded = base64.b64encode(f"token={DYNATRACE}".encode()).decode()
    text = f'blob = "{encoded}"\n'
    hit = EngineHit("a.py", 1, 8, 8 + len(encoded), DYNATRACE, "kf.dt.1", "dynatrace", "high")
    (finding,) = merge_file("a.py", text, [], [hit])
    assert encoded not in finding.snippet and DYNATRACE not in finding.snippet
    assert finding.snippet.startswith(DYNATRACE[:4] + "*")


def test_merge_keeps_the_stricter_severity() -> None:
    value = "".join(RNG.choice("abcdefghijkmnpqrstuvwxyzABCDEFGH23456789") for _ in range(30))
    text = f'api_secret = "{value}"\n'
    ours = scan_secrets("a.py", text)
    assert [f.severity for f in ours] == [Severity.HIGH]
    start = text.index(value)
    hit = EngineHit("a.py", 1, start, start + len(value), value, "kf.generic.1", "api", "high")
    merged = merge_file("a.py", text, ours, [hit, hit])
    assert len(merged) == 1 and merged[0].rule_id == ours[0].rule_id
    assert merged[0].severity is Severity.CRITICAL
    assert merged[0].properties["engine_rules"] == ["kf.generic.1"]
