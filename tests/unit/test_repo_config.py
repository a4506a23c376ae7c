"""Repository configuration: schema, defaults, warnings, errors with lines, hostile YAML."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest

from selfheal.model.findings import Severity
from selfheal.model.repo_config import (
    MAX_CONFIG_BYTES,
    ConfigError,
    RepoConfig,
    TextCache,
    load_repo_config,
    load_repo_config_file,
    schema,
)
from tests.support import paths
from tests.support.paths import ROOT

FIXTURES = paths.FIXTURES / "appcore" / "config"
DOCS = ROOT / "docs" / "configuration.md"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_schema_is_valid_and_defaults_match() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    defaults = load_repo_config(None)
    props = schema()["properties"]
    assert defaults.halt_label == props["halt_label"]["default"] == "selfheal:halt"
    assert defaults.gate.check_name == props["gate"]["properties"]["check_name"]["default"]
    assert defaults.gate.fail_on == Severity.HIGH
    assert (
        defaults.scan.max_file_size_kb == props["scan"]["properties"]["max_file_size_kb"]["default"]
    )
    assert defaults.budget.per_request_usd is None and defaults.labels.prefix == "selfheal:"
    assert defaults.requests.coder is None  # the operator's default agent
    assert load_repo_config("") == load_repo_config("# only a comment\n") == RepoConfig()


def test_every_key_is_documented() -> None:
    text = DOCS.read_text()

    def walk(node: dict[str, object], prefix: str) -> None:
        for name, sub in node.get("properties", {}).items():  # type: ignore[attr-defined]
            key = f"{prefix}{name}"
            assert f"`{key}`" in text, f"{key} is not documented in docs/configuration.md"
            if isinstance(sub, dict):
                walk(sub, f"{key}.")

    walk(schema(), "")


def test_full_file_is_merged() -> None:
    cfg = load_repo_config(_fixture("full.yml"))
    assert cfg.warnings == ()
    assert cfg.halt_label == "ops:stop"
    assert (cfg.gate.check_name, cfg.gate.fail_on, cfg.gate.actor_kind) == (
        "acme/security", Severity.MEDIUM, "bot",
    )  # fmt: skip
    assert cfg.scan.exclude == ("docs/**", "*.min.js") and cfg.scan.include_vendored
    assert cfg.scan.max_file_size == 256 * 1024 and cfg.scan.fail_on == Severity.CRITICAL
    assert cfg.budget.per_request_usd == 2.5 and cfg.labels.prefix == "acme:"
    assert cfg.requests.coder == "anthropic" and cfg.requests.allowed_agents == (
        "triage-bot",
        "fixer",
    )


def test_partial_file_keeps_other_defaults() -> None:
    cfg = load_repo_config("scan:\n  exclude: ['gen/**']\n")
    assert cfg.scan.exclude == ("gen/**",)
    assert cfg.scan.max_file_size_kb == 1024 and cfg.gate == RepoConfig().gate


def test_unknown_keys_are_warnings_with_lines() -> None:
    cfg = load_repo_config("version: 1\ngate:\n  fail_on: low\n  colour: red\nextra: 1\n")
    assert cfg.gate.fail_on == Severity.LOW
    assert cfg.warnings == (
        "unknown key /extra (line 5, column 1) is ignored",
        "unknown key /gate/colour (line 4, column 3) is ignored",
    )


@pytest.mark.parametrize(
    ("text", "pattern", "line"),
    [
        ("gate:\n  fail_on: hgh\n", r"/gate/fail_on \(line 2, column 12\): 'hgh' is not one of", 2),
        (_fixture("wrong_type.yml"), r"/scan/exclude \(line 3, column 12\): .* not of type", 3),
        ("version: 2\n", r"/version \(line 1, column 10\): 1 was expected", 1),
        ("budget:\n  per_request_usd: 0\n", r"/budget/per_request_usd .*less than or equal to", 2),
        ("scan:\n  max_file_size_kb: 1.5\n", r"/scan/max_file_size_kb .*not of type 'integer'", 2),
        ("labels:\n  prefix: nocolon\n", r"/labels/prefix .*does not match", 2),
        ("halt_label: ''\n", r"/halt_label .*too short|/halt_label .*should be non-empty", 1),
        ("requests:\n  allowed_agents: ['bad agent']\n", r"/requests/allowed_agents/0 \(line 2", 2),
        ("gate: [\n", r"invalid YAML: .*\(line 2, column 1\)", 2),
        ("a: 1\nb:\n  c: 2\n  c: 3\n", r"duplicate key 'c' \(line 4, column 3\)", 4),
        ("- 1\n- 2\n", r"top level must be a mapping", 1),
        ("just a string\n", r"top level must be a mapping", 1),
        (_fixture("billion_laughs.yml"), r"aliases \(\*name\) are not allowed here \(line 2", 2),
        (_fixture("python_object.yml"), r"could not determine a constructor", 1),
    ],
)  # fmt: skip
def test_bad_files_name_the_key_or_line(text: str, pattern: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        load_repo_config(text)
    assert re.search(pattern, str(info.value)), str(info.value)
    assert info.value.line == line
    assert str(info.value).startswith(".github/selfheal.yml:")


def test_huge_file_is_refused_before_parsing() -> None:
    text = "scan:\n  exclude:\n" + "    - 'x'\n" * (MAX_CONFIG_BYTES // 8)
    with pytest.raises(ConfigError, match="larger than 64 KiB"):
        load_repo_config(text)


def test_load_from_checkout(tmp_path: Path) -> None:
    assert load_repo_config_file(tmp_path) == RepoConfig()
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "selfheal.yml").write_text("scan:\n  include_vendored: true\n")
    assert load_repo_config_file(tmp_path).scan.include_vendored is True


async def test_text_cache_lru_by_sha() -> None:
    cache = TextCache(maxsize=2)
    loads: list[str] = []

    def loader(value: str | None):  # type: ignore[no-untyped-def]
        async def load() -> str | None:
            loads.append(str(value))
            return value

        return load

    assert await cache.fetch("o/r", "sha1", "p", loader("one")) == "one"
    assert await cache.fetch("o/r", "sha1", "p", loader("changed")) == "one"
    assert await cache.fetch("o/r", "sha2", "p", loader(None)) is None
    assert await cache.fetch("o/r", "sha2", "p", loader("x")) is None  # "missing" is cached
    assert await cache.fetch("o/r", "sha3", "p", loader("three")) == "three"  # evicts sha1
    assert await cache.fetch("o/r", "sha1", "p", loader("again")) == "again"
    assert loads == ["one", "None", "three", "again"] and len(cache) == 2
    assert (cache.hits, cache.misses) == (2, 4)
