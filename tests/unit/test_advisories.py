"""Advisory data: the bundled snapshot, OSV inputs, and `selfheal advisories update|info`."""

from __future__ import annotations

import gzip
import json
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from selfheal.cli import main
from selfheal.scanner.advisories import (
    AdvisoryDataError,
    AdvisoryDB,
    build_compact,
    bundled_path,
    iter_osv_documents,
    normalize_name,
    read_advisories,
    updated_path,
    write_compact,
)
from selfheal.scanner.versions import build_affected_set
from tests.support import paths
from tests.support.paths import ROOT

REPO = ROOT
BUILD_SCRIPT = REPO / "scripts" / "build_advisories.py"
# The PyPA export the bundled snapshot is built from, kept in the repository (CC-BY-4.0).
SOURCE = REPO / "scripts" / "data" / "pypa-advisory-database-2024-10-10.osv.jsonl.gz"
OSV_FIXTURES = paths.FIXTURES / "deps" / "osv"


@pytest.fixture(scope="module")
def source_records() -> list[dict[str, Any]]:
    return [doc for _, doc in iter_osv_documents(SOURCE)]


@pytest.fixture(scope="module")
def bundled() -> AdvisoryDB:
    return AdvisoryDB.load(bundled_path())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_build_script_defaults_are_the_files_in_the_repository(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts app/ on the path
    script = runpy.run_path(str(BUILD_SCRIPT), run_name="build_advisories")
    assert script["SOURCE"] == SOURCE
    assert script["OUT"] == bundled_path()


def test_bundled_snapshot_is_what_the_script_builds(tmp_path: Path) -> None:
    """The script, run on its default source, writes exactly the bytes that ship."""
    out = tmp_path / "rebuilt.json.gz"
    done = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rebuilt, shipped = out.read_bytes(), bundled_path().read_bytes()
    stale = "the bundled snapshot is stale: run python scripts/build_advisories.py"
    assert gzip.decompress(rebuilt) == gzip.decompress(shipped), stale
    # Same content; the gzip stream must match too (no timestamp or file name in the header).
    assert rebuilt == shipped, "same JSON, different gzip bytes: is the build deterministic?"


def test_bundled_snapshot_header_and_size(bundled: AdvisoryDB) -> None:
    assert bundled_path().stat().st_size < 1_000_000
    assert bundled.description == "PyPA advisory database (OSV), snapshot 2024-10-10, CC-BY-4.0"
    assert "Python Packaging Authority" in bundled.attribution
    assert "CC-BY-4.0" in bundled.attribution
    assert len(bundled.advisories) == 2661
    assert len(bundled.advisories) - bundled.active_count == 10  # withdrawn ones kept, unused
    notice = (bundled_path().parent / "NOTICE").read_text()
    assert "CC-BY-4.0" in notice and "2024-10-10" in notice


def test_compaction_keeps_every_affected_version(
    bundled: AdvisoryDB, source_records: list[dict[str, Any]]
) -> None:
    """Every version the source lists as affected, and every fixed version, still match
    exactly as before, although the compact file drops versions the ranges cover."""
    by_id = {a.id: a for a in bundled.advisories}
    checked = 0
    for record in source_records:
        advisory = by_id[record["id"]]
        for entry in record["affected"]:
            name = normalize_name(entry["package"]["name"])
            compact = next(a for a in advisory.affected if a.package == name)
            aset = build_affected_set(compact.ranges, compact.versions)
            for version in entry.get("versions", ()):
                assert aset.contains_text(version), (record["id"], version)
                checked += 1
            for rng in entry.get("ranges", ()):
                if rng["type"] == "ECOSYSTEM":
                    for event in rng["events"]:
                        if "fixed" in event and event["fixed"] not in entry.get("versions", ()):
                            assert not aset.contains_text(event["fixed"]), record["id"]
    assert checked > 100_000


def test_index_lookup_is_normalised_and_skips_withdrawn(bundled: AdvisoryDB) -> None:
    ids = {a.id for a, _ in bundled.affected_sets("Flask_Caching")}
    assert "PYSEC-2021-13" not in ids  # withdrawn
    assert {a.id for a, _ in bundled.affected_sets("PyYAML")} >= {"PYSEC-2021-142"}
    assert bundled.affected_sets("no-such-package-anywhere") == []


def test_a_file_is_parsed_once_while_it_is_unchanged(tmp_path: Path) -> None:
    _, advisories = read_advisories(OSV_FIXTURES)
    target = tmp_path / "data.json.gz"
    write_compact(build_compact(advisories, source="first"), target)
    first, again = AdvisoryDB.load(target), AdvisoryDB.load(target)
    assert first.advisories == again.advisories
    assert all(a is b for a, b in zip(first.advisories, again.advisories, strict=True))
    write_compact(build_compact(advisories[:1], source="second"), target)
    changed = AdvisoryDB.load(target)
    assert (changed.source, len(changed.advisories)) == ("second", 1)
    folder, reread = AdvisoryDB.load(OSV_FIXTURES), AdvisoryDB.load(OSV_FIXTURES)
    assert folder.advisories == reread.advisories  # a folder is read every time
    assert not any(a is b for a, b in zip(folder.advisories, reread.advisories, strict=True))


def test_default_load_prefers_updated_copy(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert updated_path() == home / "advisories" / "osv-compact.json.gz"
    assert AdvisoryDB.load().path == bundled_path()
    assert main(["advisories", "update", "--from", str(OSV_FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "stored 3 advisories (1 withdrawn) for 2 packages" in out
    assert "newest modified: 2025-02-03T00:00:00Z" in out
    db = AdvisoryDB.load()
    assert db.path == updated_path()
    assert db.description == "OSV export osv, snapshot 2025-02-03, CC-BY-4.0"
    assert main(["advisories", "info"]) == 0
    info = capsys.readouterr().out
    assert "updated copy" in info and "2 active, 1 withdrawn, 2 packages" in info


def _write_jsonl_gz(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in records).encode()))


def _fixture_records() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(OSV_FIXTURES.glob("*.json"))]


@pytest.mark.parametrize("kind", ["jsonl", "jsonl.gz", "zip", "folder", "compact"])
def test_update_accepts_osv_exports(tmp_path: Path, kind: str) -> None:
    records = _fixture_records()
    source = tmp_path / f"export.{kind}"
    if kind == "jsonl":
        source.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    elif kind == "jsonl.gz":
        _write_jsonl_gz(source, records)
    elif kind == "zip":
        with zipfile.ZipFile(source, "w") as zf:
            for record in records:
                zf.writestr(f"{record['id']}.json", json.dumps(record))
            zf.writestr("README.txt", "not JSON, ignored")
    elif kind == "folder":
        source = OSV_FIXTURES
    else:
        assert (
            main(
                [
                    "advisories",
                    "update",
                    "--from",
                    str(OSV_FIXTURES),
                    "--to",
                    str(tmp_path / "first.json.gz"),
                    "--name",
                    "Test data",
                ]
            )
            == 0
        )
        source = tmp_path / "first.json.gz"
    target = tmp_path / "out" / "data.json.gz"
    assert main(["advisories", "update", "--from", str(source), "--to", str(target)]) == 0
    db = AdvisoryDB.load(target)
    assert sorted(a.id for a in db.advisories) == [
        "GHSA-dddd-eeee-ffff",
        "PYSEC-0000-1",
        "PYSEC-0000-2",
    ]
    assert {a.id for a, _ in db.affected_sets("demo-pkg")} == {"PYSEC-0000-1"}
    assert db.snapshot == "2025-02-03"
    if kind == "compact":
        assert db.source == "Test data"  # the compact header is kept as it is


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("bad-json-line", "export.jsonl:2: invalid JSON"),
        ("not-osv", "not an OSV record"),
        ("empty-folder", "no PyPI advisories found"),
        ("not-a-zip", "not a zip file"),
        ("missing", "no such file or folder"),
        ("bad-affected", "'affected' must be a list"),
    ],
)
def test_update_rejects_bad_input_and_keeps_previous_data(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str
) -> None:
    assert main(["advisories", "update", "--from", str(OSV_FIXTURES)]) == 0
    before = updated_path().read_bytes()
    record = _fixture_records()[0]
    source = tmp_path / "export.jsonl"
    if kind == "bad-json-line":
        source.write_text(json.dumps(record) + "\n{not json\n")
    elif kind == "not-osv":
        source = tmp_path / "dir"
        source.mkdir()
        (source / "x.json").write_text('{"hello": "world"}')
    elif kind == "empty-folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif kind == "not-a-zip":
        source = tmp_path / "all.zip"
        source.write_bytes(b"PK\x03\x04 truncated")
    elif kind == "bad-affected":
        source.write_text(json.dumps(record | {"affected": {"package": "x"}}) + "\n")
    else:
        source = tmp_path / "nowhere.zip"
    capsys.readouterr()
    assert main(["advisories", "update", "--from", str(source)]) == 2
    err = capsys.readouterr().err
    assert message in err and "previous advisory data kept" in err
    assert updated_path().read_bytes() == before
    assert not [p for p in updated_path().parent.iterdir() if p.name.startswith(".advisories-")]


def test_info_on_bundled_and_explicit_data(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "info"]) == 0
    out = capsys.readouterr().out
    assert "PyPA advisory database (OSV), snapshot 2024-10-10, CC-BY-4.0" in out
    assert "bundled snapshot" in out and "2651 active, 10 withdrawn" in out
    assert "attribution: Vulnerability data from the PyPA Advisory Database" in out
    assert main(["advisories", "info", "--advisories", str(OSV_FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "OSV data from osv, snapshot 2025-02-03" in out and "given with --advisories" in out
    assert main(["advisories", "info", "--advisories", str(OSV_FIXTURES / "nope.json")]) == 2
    assert "cannot load advisory data" in capsys.readouterr().err


def test_corrupt_stored_copy_is_a_clear_error(home: Path) -> None:
    target = updated_path()
    target.parent.mkdir(parents=True)
    target.write_bytes(gzip.compress(b'{"format": "selfheal-osv-compact"}')[:-12])
    with pytest.raises(AdvisoryDataError, match="cannot read"):
        AdvisoryDB.load()
    target.write_bytes(gzip.compress(b'{"format": "selfheal-osv-compact", "version": 1}'))
    with pytest.raises(AdvisoryDataError, match="corrupt compact advisory data"):
        AdvisoryDB.load()
