"""Dependency bumps against the real bundled advisory snapshot: the version chosen, and the
edit in each file format, byte for byte (comments, order, quoting, extras, markers kept)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from packaging.version import Version

from selfheal.coder.depbump import BumpPlan, fixing_version, plan_bumps
from selfheal.scanner.advisories import AdvisoryDB, bundled_path
from selfheal.scanner.deps import analyse_dependencies
from selfheal.scanner.versions import build_affected_set

# Lowest versions in the 2024-10-10 snapshot that no advisory affects, above these pins:
# requests 2.19.0 -> 2.31.0, jinja2 2.10 -> 2.11.3, pyyaml 5.3 -> 5.4.
HASH_A = "sha256:" + "a" * 64
HASH_B = "sha256:" + "b" * 64


@pytest.fixture(scope="module")
def db() -> AdvisoryDB:
    return AdvisoryDB.load(bundled_path())


def bump(db: AdvisoryDB, files: dict[str, str], **kwargs: object) -> BumpPlan:
    def read(path: str) -> str | None:
        return files.get(path)

    return plan_bumps(list(files), read, db, **kwargs)  # type: ignore[arg-type]


def still_vulnerable(db: AdvisoryDB, path: str, text: str) -> list[str]:
    read: Callable[[str], str | None] = lambda p: text if p == path else None  # noqa: E731
    found = analyse_dependencies([path], read, db).findings
    return sorted({f.properties["package"] for f in found if f.rule_id == "dependency-vulnerable"})


# -- the version ---------------------------------------------------------------------------------


def test_the_lowest_version_that_no_advisory_affects() -> None:
    a = build_affected_set([[("introduced", "0"), ("fixed", "1.5")]], [])
    b = build_affected_set([[("introduced", "1.5"), ("fixed", "1.6")]], [])  # a regression
    c = build_affected_set([[("introduced", "0"), ("fixed", "2.0rc1"), ("fixed", "1.7")]], [])
    assert fixing_version([a], Version("1.0")) == Version("1.5")
    assert fixing_version([a, b], Version("1.0")) == Version("1.6")
    assert fixing_version([a, b, c], Version("1.0")) == Version("1.7")  # 2.0rc1 is skipped
    assert fixing_version([a, b, c], Version("2.0a1")) == Version("2.0rc1")  # unless pre already
    assert fixing_version([a], Version("1.5")) is None  # nothing above, nothing fixes
    never = build_affected_set([[("introduced", "0")]], [])
    assert fixing_version([never, a], Version("1.0")) is None


# -- requirements files --------------------------------------------------------------------------

REQUIREMENTS = f"""\
# web stack
--index-url https://pypi.org/simple
requests[socks] == 2.19.0 ; python_version >= "3.8"  # keep socks
Jinja2>=2.10, <3.0
flask>=0.12,<0.12.3
pyyaml==5.3 \\
    --hash={HASH_A}
-r other.txt
"""

REQUIREMENTS_BUMPED = f"""\
# web stack
--index-url https://pypi.org/simple
requests[socks] == 2.31.0 ; python_version >= "3.8"  # keep socks
Jinja2>=2.11.3, <3.0
flask>=0.12,<0.12.3
pyyaml==5.3 \\
    --hash={HASH_A}
-r other.txt
"""


def test_requirements_keep_their_format_and_refuse_what_they_cannot_do(db: AdvisoryDB) -> None:
    plan = bump(db, {"requirements.txt": REQUIREMENTS, "other.txt": "urllib3==1.24.1\n"})
    assert plan.texts == {
        "requirements.txt": REQUIREMENTS_BUMPED,
        "other.txt": "urllib3==1.26.18\n",
    }
    assert {(b.package, b.new) for b in plan.bumps} == {
        ("requests", "2.31.0"), ("jinja2", "2.11.3"), ("urllib3", "1.26.18")
    }  # fmt: skip
    reasons = {s.package: s.reason for s in plan.skips}
    assert "excludes 2.2.5" in reasons["flask"]  # the upper bound is below the fix
    assert "--hash" in reasons["pyyaml"]  # new hashes need the index: never left stale
    assert plan.notes == []  # requirements files have nothing that is not regenerated


def test_an_included_file_outside_the_targets_is_not_changed(db: AdvisoryDB) -> None:
    files = {"requirements.txt": "-r base.txt\n", "base.txt": "requests==2.19.0\n"}
    plan = plan_bumps(["requirements.txt"], files.get, db)
    assert plan.texts == {}
    ((skip),) = plan.skips
    assert (skip.path, skip.package) == ("base.txt", "requests") and "included" in skip.reason


def test_a_task_from_a_scan_bumps_only_its_packages(db: AdvisoryDB) -> None:
    files = {"requirements.txt": "requests==2.19.0\njinja2==2.10\n"}
    plan = bump(db, files, only=[("requirements.txt", "Jinja2")])
    assert plan.texts == {"requirements.txt": "requests==2.19.0\njinja2==2.11.3\n"}


# -- pyproject.toml ------------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "demo"
dependencies = [
    "requests==2.19.0",  # pinned on purpose
    'jinja2>=2.10',
]

[project.optional-dependencies]
yaml = ["PyYAML[libyaml]==5.3; sys_platform != 'win32'"]

[dependency-groups]
dev = ["jinja2 >=2.10,<3"]

[tool.poetry.dependencies]
python = "^3.11"
requests = "2.19.0"
jinja2 = { version = "^2.10", extras = ["i18n"] }
urllib3 = "~1.24.1"

[tool.poetry.group.dev.dependencies.pyyaml]
version = "==5.3"
optional = true
"""

PYPROJECT_BUMPED = """\
[project]
name = "demo"
dependencies = [
    "requests==2.31.0",  # pinned on purpose
    'jinja2>=2.11.3',
]

[project.optional-dependencies]
yaml = ["PyYAML[libyaml]==5.4; sys_platform != 'win32'"]

[dependency-groups]
dev = ["jinja2 >=2.11.3,<3"]

[tool.poetry.dependencies]
python = "^3.11"
requests = "2.31.0"
jinja2 = { version = "^2.11.3", extras = ["i18n"] }
urllib3 = "~1.24.1"

[tool.poetry.group.dev.dependencies.pyyaml]
version = "==5.4"
optional = true
"""


def test_pyproject_pep621_and_poetry_keep_their_format(db: AdvisoryDB) -> None:
    plan = bump(db, {"pyproject.toml": PYPROJECT})
    assert plan.texts == {"pyproject.toml": PYPROJECT_BUMPED}
    ((skip),) = plan.skips
    assert skip.package == "urllib3" and "outside ~1.24.1" in skip.reason
    assert still_vulnerable(db, "pyproject.toml", PYPROJECT_BUMPED) == ["urllib3"]


# -- lock files ----------------------------------------------------------------------------------

POETRY_LOCK = f"""\
# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2024.8.30"
description = "Python package for providing Mozilla's CA Bundle."
optional = false
python-versions = ">=3.6"
files = [
    {{file = "certifi-2024.8.30-py3-none-any.whl", hash = "{HASH_A}"}},
]

[[package]]
name = "requests"
version = "2.19.0"
description = "Python HTTP for Humans."
optional = false
python-versions = ">=3.8"
files = [
    {{file = "requests-2.19.0-py3-none-any.whl", hash = "{HASH_A}"}},
    {{file = "requests-2.19.0.tar.gz", hash = "{HASH_B}"}},
]

[package.dependencies]
certifi = ">=2017.4.17"

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "0000"
"""

POETRY_LOCK_BUMPED = f"""\
# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2024.8.30"
description = "Python package for providing Mozilla's CA Bundle."
optional = false
python-versions = ">=3.6"
files = [
    {{file = "certifi-2024.8.30-py3-none-any.whl", hash = "{HASH_A}"}},
]

[[package]]
name = "requests"
version = "2.31.0"
description = "Python HTTP for Humans."
optional = false
python-versions = ">=3.8"
files = []

[package.dependencies]
certifi = ">=2017.4.17"

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "0000"
"""

OLD_POETRY_LOCK = f"""\
[[package]]
name = "jinja2"
version = "2.10"
description = ""
category = "main"
optional = false
python-versions = "*"

[metadata]
lock-version = "1.1"
content-hash = "0000"

[metadata.files]
jinja2 = [
    {{file = "Jinja2-2.10-py2.py3-none-any.whl", hash = "{HASH_A}"}},
]
markupsafe = [
    {{file = "MarkupSafe-2.1.5.tar.gz", hash = "{HASH_B}"}},
]
"""

UV_LOCK = f"""\
version = 1
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [
    {{ name = "pyyaml" }},
]

[package.metadata]
requires-dist = [{{ name = "pyyaml", specifier = "==5.3" }}]

[[package]]
name = "pyyaml"
version = "5.3"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "https://files.example/PyYAML-5.3.tar.gz", hash = "{HASH_A}", size = 268803 }}
wheels = [
    {{ url = "https://files.example/PyYAML-5.3-cp38.whl", hash = "{HASH_B}", size = 213553 }},
]
"""

UV_LOCK_BUMPED = """\
version = 1
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "pyyaml" },
]

[package.metadata]
requires-dist = [{ name = "pyyaml", specifier = "==5.4" }]

[[package]]
name = "pyyaml"
version = "5.4"
source = { registry = "https://pypi.org/simple" }
"""

PIPFILE_LOCK = f"""\
{{
    "_meta": {{
        "hash": {{
            "sha256": "{"c" * 64}"
        }},
        "pipfile-spec": 6,
        "requires": {{}},
        "sources": []
    }},
    "default": {{
        "jinja2": {{
            "hashes": [
                "{HASH_A}",
                "{HASH_B}"
            ],
            "index": "pypi",
            "markers": "python_version >= '3.7'",
            "version": "==2.10"
        }}
    }},
    "develop": {{}}
}}
"""

PIPFILE_LOCK_BUMPED = f"""\
{{
    "_meta": {{
        "hash": {{
            "sha256": "{"c" * 64}"
        }},
        "pipfile-spec": 6,
        "requires": {{}},
        "sources": []
    }},
    "default": {{
        "jinja2": {{
            "hashes": [],
            "index": "pypi",
            "markers": "python_version >= '3.7'",
            "version": "==2.11.3"
        }}
    }},
    "develop": {{}}
}}
"""


@pytest.mark.parametrize(
    ("name", "text", "expected", "regenerate"),
    [
        ("poetry.lock", POETRY_LOCK, POETRY_LOCK_BUMPED, "poetry lock --no-update"),
        ("uv.lock", UV_LOCK, UV_LOCK_BUMPED, "uv lock"),
        ("Pipfile.lock", PIPFILE_LOCK, PIPFILE_LOCK_BUMPED, "pipenv lock"),
    ],
)
def test_lock_files_change_the_version_and_drop_stale_hashes(
    db: AdvisoryDB, name: str, text: str, expected: str, regenerate: str
) -> None:
    plan = bump(db, {name: text})
    assert plan.texts == {name: expected}
    assert plan.skips == []
    (note,) = plan.notes
    assert note.startswith(f"{name}: the lock is not re-resolved") and regenerate in note
    assert still_vulnerable(db, name, expected) == []


def test_old_poetry_locks_lose_the_hashes_under_metadata_files(db: AdvisoryDB) -> None:
    plan = bump(db, {"poetry.lock": OLD_POETRY_LOCK})
    text = plan.texts["poetry.lock"]
    assert 'version = "2.11.3"' in text
    assert "jinja2 = []\n" in text and HASH_A not in text
    assert HASH_B in text  # another package's hashes stay


def test_every_file_naming_a_package_gets_the_same_version(db: AdvisoryDB) -> None:
    """urllib3 1.24.1 alone would get 1.26.18 and 2.0.0 gets 2.0.7: both files get 2.0.7, so
    a requirements file and a lock never disagree."""
    alone = bump(db, {"requirements.txt": "urllib3==1.24.1\n"})
    assert alone.texts == {"requirements.txt": "urllib3==1.26.18\n"}
    files = {
        "requirements.txt": "urllib3==1.24.1\njinja2>=2.7\n",
        "Pipfile.lock": PIPFILE_LOCK.replace('"jinja2"', '"urllib3"').replace("==2.10", "==2.0.0"),
    }
    plan = bump(db, files)
    assert {(b.path, b.package, b.new) for b in plan.bumps} == {
        ("requirements.txt", "urllib3", "2.0.7"),
        ("requirements.txt", "jinja2", "2.11.3"),
        ("Pipfile.lock", "urllib3", "2.0.7"),
    }


def test_an_unreadable_file_is_skipped_not_guessed(db: AdvisoryDB) -> None:
    plan = bump(db, {"pyproject.toml": "[project\nname = 1\n"})
    assert plan.texts == {} and "invalid TOML" in plan.skips[0].reason
