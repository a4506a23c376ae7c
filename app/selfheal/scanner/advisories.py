"""Advisory data: OSV records for PyPI, the compact on-disk form, and the in-memory index.

Inputs understood by :meth:`AdvisoryDB.load` and by ``selfheal advisories update``:

* our compact file (``*.json.gz`` / ``*.json`` with ``"format": "selfheal-osv-compact"``);
* an OSV export as JSON lines (``*.jsonl`` or ``*.jsonl.gz``);
* a folder of OSV JSON files (searched recursively);
* a zip of OSV JSON files (like OSV's per-ecosystem ``all.zip``);
* a single OSV JSON record.

Only ``PyPI`` entries and ``ECOSYSTEM``/``SEMVER`` ranges are kept. Explicit ``versions``
are kept only where the ranges do not already cover them, which keeps the bundled
snapshot small without changing what matches.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfheal.resources import package_data
from selfheal.scanner.osv import (
    Advisory,
    AdvisoryDataError,
    Affected,
    advisory_from_compact,
    advisory_from_osv,
    normalize_name,
)
from selfheal.scanner.versions import AffectedSet, build_affected_set

__all__ = [
    "Advisory",
    "AdvisoryDB",
    "AdvisoryDataError",
    "Affected",
    "build_compact",
    "bundled_path",
    "iter_osv_documents",
    "normalize_name",
    "read_advisories",
    "updated_path",
    "write_compact",
]

COMPACT_FORMAT = "selfheal-osv-compact"
COMPACT_VERSION = 1
BUNDLED_NAME = "pypa-osv-2024-10-10.json.gz"
UPDATED_NAME = "osv-compact.json.gz"
# Decompressed size caps: a zip member is one OSV record (kilobytes); a .gz is a whole export
# (the full PyPI one is under 100 MiB). A zip or gzip bomb stops here instead of eating memory.
MAX_MEMBER_BYTES = 16 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 512 * 1024 * 1024


def bundled_path() -> Path:
    return package_data("advisories") / BUNDLED_NAME


def updated_path(env: Mapping[str, str] | None = None) -> Path:
    """Where ``selfheal advisories update`` stores data: $SELFHEAL_HOME or ~/.local/share."""
    env = os.environ if env is None else env
    home = env.get("SELFHEAL_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "selfheal"
    return base / "advisories" / UPDATED_NAME


def _json_docs(name: str, data: bytes) -> Iterator[tuple[str, Any]]:
    try:
        yield name, json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdvisoryDataError(f"{name}: invalid JSON ({exc})") from None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    with zf.open(info) as member:  # the declared size can lie: read at most the cap + 1
        data = member.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise AdvisoryDataError(f"{where}: larger than {MAX_MEMBER_BYTES} bytes uncompressed")
    return data


def _read_gzip(path: Path) -> bytes:
    with gzip.open(path, "rb") as stream:
        data = stream.read(MAX_DECOMPRESSED_BYTES + 1)
    if len(data) > MAX_DECOMPRESSED_BYTES:
        raise AdvisoryDataError(f"{path}: larger than {MAX_DECOMPRESSED_BYTES} bytes uncompressed")
    return data


def iter_osv_documents(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(location, parsed JSON)`` for every document in an OSV export."""
    if path.is_dir():
        yield from _folder_documents(path)
        return
    if not path.is_file():
        raise AdvisoryDataError(f"{path}: no such file or folder")
    name = path.name.lower()
    if name.endswith(".zip"):
        yield from _zip_documents(path)
        return
    raw = _read_export(path, gzipped=name.endswith(".gz"))
    if ".jsonl" in name:
        yield from _jsonl_documents(path, raw)
        return
    yield from _json_docs(str(path), raw)


def _folder_documents(folder: Path) -> Iterator[tuple[str, Any]]:
    """Every ``*.json`` file under ``folder``, in path order."""
    files = sorted(p for p in folder.rglob("*.json") if p.is_file())
    for p in files:
        yield from _json_docs(str(p), p.read_bytes())


def _zip_documents(path: Path) -> Iterator[tuple[str, Any]]:
    """Every ``*.json`` member of the zip file ``path``, in name order."""
    try:
        with zipfile.ZipFile(path) as zf:
            for info in sorted(zf.infolist(), key=lambda i: i.filename):
                if not info.is_dir() and info.filename.endswith(".json"):
                    where = f"{path}!{info.filename}"
                    yield from _json_docs(where, _read_member(zf, info, where))
    except (zipfile.BadZipFile, zlib.error, OSError) as exc:
        raise AdvisoryDataError(f"{path}: not a zip file ({exc})") from None


def _read_export(path: Path, *, gzipped: bool) -> bytes:
    """The bytes of a single-file export, decompressed when ``gzipped``."""
    try:
        return _read_gzip(path) if gzipped else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise AdvisoryDataError(f"{path}: cannot read ({exc})") from None


def _jsonl_documents(path: Path, raw: bytes) -> Iterator[tuple[str, Any]]:
    """One document per non-blank line of a JSON-lines export."""
    for number, line in enumerate(io.BytesIO(raw), 1):
        if line.strip():
            yield from _json_docs(f"{path}:{number}", line)


def read_advisories(path: Path) -> tuple[dict[str, Any], list[Advisory]]:
    """Read any supported input; return (header, advisories). Raises AdvisoryDataError."""
    header: dict[str, Any] = {}
    advisories: list[Advisory] = []
    for where, doc in iter_osv_documents(path):
        if isinstance(doc, Mapping) and doc.get("format") == COMPACT_FORMAT:
            if doc.get("version") != COMPACT_VERSION:
                raise AdvisoryDataError(
                    f"{where}: unsupported compact version {doc.get('version')}"
                )
            header = {k: v for k, v in doc.items() if k != "advisories"}
            try:
                advisories.extend(advisory_from_compact(r) for r in doc["advisories"])
            except (KeyError, TypeError, ValueError) as exc:
                raise AdvisoryDataError(
                    f"{where}: corrupt compact advisory data ({exc!r})"
                ) from None
            continue
        for number, record in enumerate(doc if isinstance(doc, list) else [doc]):
            adv = advisory_from_osv(
                record, where if not isinstance(doc, list) else f"{where}[{number}]"
            )
            if adv is not None:
                advisories.append(adv)
    return header, advisories


@functools.lru_cache(maxsize=4)
def _read_file(path: Path, *version: int) -> tuple[dict[str, Any], tuple[Advisory, ...]]:
    """:func:`read_advisories` of one file version (``version`` is only part of the key)."""
    header, advisories = read_advisories(path)
    return header, tuple(advisories)


def _read_once(path: Path) -> tuple[dict[str, Any], list[Advisory]]:
    """:func:`read_advisories`, remembered for a file while it stays the same file (device,
    inode, size, mtime): every scan loads the data, and parsing the bundled snapshot takes
    ~0.1 s. A folder is read every time (its own mtime does not follow its files)."""
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        return read_advisories(path)
    version = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    header, advisories = _read_file(path.resolve(), *version)
    return dict(header), list(advisories)


def build_compact(advisories: Iterable[Advisory], **header: Any) -> dict[str, Any]:
    """The compact document: a header (source, snapshot, license, attribution...) + records."""
    records = sorted(advisories, key=lambda a: a.id)
    newest = max((a.modified for a in records), default="")
    return {
        "format": COMPACT_FORMAT,
        "version": COMPACT_VERSION,
        **header,
        "newest_modified": newest,
        "count": len(records),
        "advisories": [a.to_compact() for a in records],
    }


def write_compact(document: Mapping[str, Any], path: Path) -> None:
    """Write gzip'd compact JSON atomically (temp file + rename) and reproducibly (mtime 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".advisories-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
            gz.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class AdvisoryDB:
    """Advisories indexed by normalised package name; withdrawn ones are left out."""

    advisories: list[Advisory]
    source: str = "OSV data"
    snapshot: str = ""
    license: str = ""
    attribution: str = ""
    path: Path | None = None
    _index: dict[str, list[tuple[Advisory, Affected]]] = field(default_factory=dict, repr=False)
    _compiled: dict[str, list[tuple[Advisory, AffectedSet]]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        for adv in self.advisories:
            if adv.withdrawn:
                continue
            for aff in adv.affected:
                self._index.setdefault(aff.package, []).append((adv, aff))

    @classmethod
    def load(cls, path: Path | None = None) -> AdvisoryDB:
        """``path`` None: the data ``selfheal advisories update`` stored, else the bundle.

        A file is parsed once per process for as long as it is unchanged."""
        if path is None:
            updated = updated_path()
            path = updated if updated.is_file() else bundled_path()
        header, advisories = _read_once(path)
        if not advisories:  # a wrong path or a broken export would otherwise pass everything
            raise AdvisoryDataError(f"{path}: no PyPI advisories found")
        if not header:
            newest = max((a.modified for a in advisories), default="")
            header = {
                "source": f"OSV data from {path.name}",
                "snapshot": newest[:10] or "unknown date",
                "license": "licence as published by the data's source",
            }
        return cls(
            advisories,
            source=str(header.get("source", "OSV data")),
            snapshot=str(header.get("snapshot", "")),
            license=str(header.get("license", "")),
            attribution=str(header.get("attribution", "")),
            path=path,
        )

    @property
    def description(self) -> str:
        parts = [self.source, f"snapshot {self.snapshot}" if self.snapshot else "", self.license]
        return ", ".join(p for p in parts if p)

    @property
    def active_count(self) -> int:
        return sum(1 for a in self.advisories if not a.withdrawn)

    @property
    def newest_modified(self) -> str:
        return max((a.modified for a in self.advisories), default="")

    def affected_sets(self, package: str) -> list[tuple[Advisory, AffectedSet]]:
        """Advisories for one package with their compiled version sets (cached)."""
        name = normalize_name(package)
        got = self._compiled.get(name)
        if got is None:
            got = [
                (adv, build_affected_set(aff.ranges, aff.versions))
                for adv, aff in self._index.get(name, ())
            ]
            self._compiled[name] = got
        return got
