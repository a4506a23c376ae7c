"""Baselines of hashed secrets: write, load, suppress after a move, never suppress others."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.scanner.baseline import Baseline, BaselineError
from selfheal.scanner.secrets import scan_secrets, secret_hash

ALNUM = string.ascii_letters + string.digits


def token(seed: int) -> str:
    rng = random.Random(seed)
    return "ghp_" + "".join(rng.choice(ALNUM) for _ in range(36))


def semgrep_finding(path: str = "app/db.py", line: int = 12) -> Finding:
    return Finding(
        rule_id="python-sql-injection",
        category=Category.INJECTION,
        severity=Severity.HIGH,
        path=path,
        line=line,
        message="SQL built from user input",
        source=Source.SEMGREP,
        snippet='cur.execute("SELECT * FROM t WHERE id=" + uid)',
    )


def test_round_trip_suppresses_moved_secret_but_not_a_new_one(tmp_path: Path) -> None:
    known, other = token(1), token(2)
    before = scan_secrets("config/dev.py", f"TOKEN = '{known}'\n")
    baseline_file = tmp_path / "selfheal-baseline.json"
    Baseline.from_findings(before).save(baseline_file)

    raw = baseline_file.read_text()
    assert known not in raw and known[4:] not in raw  # only the hash is stored
    data = json.loads(raw)
    assert data["version"] == 1
    assert data["entries"] == [
        {
            "rule_id": "secret-github-token",
            "path": "config/dev.py",
            "secret_hash": secret_hash(known),
            "kind": "github-token",
        }
    ]

    loaded = Baseline.load(baseline_file)
    assert len(loaded) == 1
    moved = scan_secrets("config/dev.py", f"# header\n\n\nSOME = 1\n    TOKEN = '{known}'\n")
    assert moved and moved[0].line == 5
    assert loaded.filter(moved) == []

    mixed = scan_secrets("config/dev.py", f"TOKEN = '{known}'\nNEW = '{other}'\n")
    remaining = loaded.filter(mixed)
    assert [(f.line, f.properties["secret_hash"]) for f in remaining] == [(2, secret_hash(other))]

    replaced = scan_secrets("config/dev.py", f"TOKEN = '{other}'\n")
    assert loaded.filter(replaced) == replaced
    elsewhere = scan_secrets("config/prod.py", f"TOKEN = '{known}'\n")
    assert not loaded.suppresses(elsewhere[0])


def test_same_secret_under_another_rule_is_not_suppressed() -> None:
    secret = "Tr0ub4dor&3x"
    as_password = scan_secrets("a.py", f'password = "{secret}"\n')
    baseline = Baseline.from_findings(as_password)
    as_dsn = scan_secrets("a.py", f'DSN = "postgres://u:{secret}@h/db"\n')
    assert as_dsn[0].properties["secret_hash"] == as_password[0].properties["secret_hash"]
    assert baseline.filter(as_dsn) == as_dsn


def test_non_secret_findings_are_matched_by_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "baseline.json"
    Baseline.from_findings([semgrep_finding(line=12)]).save(path)
    loaded = Baseline.load(path)
    assert loaded.entries[0].fingerprint == semgrep_finding().fingerprint
    assert loaded.suppresses(semgrep_finding(line=40))  # moved: same fingerprint
    assert not loaded.suppresses(semgrep_finding(path="app/other.py"))


def test_paths_are_normalised() -> None:
    baseline = Baseline.from_findings(scan_secrets("./cfg/a.py", f"t='{token(3)}'\n"))
    assert baseline.entries[0].path == "cfg/a.py"
    assert baseline.suppresses(scan_secrets("cfg/a.py", f"t='{token(3)}'\n")[0])


def test_save_is_deterministic_and_deduplicated(tmp_path: Path) -> None:
    text = f"a = '{token(4)}'\nb = '{token(5)}'\nc = '{token(4)}'\n"
    findings = scan_secrets("x.py", text)
    assert len(findings) == 3
    one, two = tmp_path / "1.json", tmp_path / "2.json"
    Baseline.from_findings(findings).save(one)
    Baseline.from_findings(reversed(findings)).save(two)
    assert one.read_bytes() == two.read_bytes()
    assert len(Baseline.load(one)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.json", "2.json"]  # no temp files


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a JSON baseline"),
        ("[]", "expected a JSON object"),
        ('{"version": 2, "entries": []}', "unsupported baseline version 2"),
        ('{"entries": []}', "unsupported baseline version None"),
        ('{"version": true, "entries": []}', "unsupported baseline version True"),
        ('{"version": 1}', "'entries' must be a list"),
        ('{"version": 1, "entries": [3]}', "entries[0]: expected an object"),
        ('{"version": 1, "entries": [{"path": "a"}]}', "entries[0]: missing or invalid 'rule_id'"),
        (
            '{"version": 1, "entries": [{"rule_id": "r", "path": "a", "secret_hash": "abc"}]}',
            "entries[0]: 'secret_hash' must be a lower-case sha256 hex digest",
        ),
        (
            '{"version": 1, "entries": [{"rule_id": "r", "path": "a"}]}',
            "entries[0]: needs 'secret_hash' or 'fingerprint'",
        ),
    ],
)
def test_invalid_baselines_raise_with_the_file_name(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BaselineError) as info:
        Baseline.load(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_baseline_file(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read baseline"):
        Baseline.load(tmp_path / "absent.json")


def test_empty_baseline_suppresses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    Baseline().save(path)
    findings = scan_secrets("a.py", f"t = '{token(6)}'\n")
    assert Baseline.load(path).filter(findings) == findings
