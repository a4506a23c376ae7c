"""Hostile `.github/selfheal.yml` files: a clear ConfigError and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.model.repo_config import MAX_DEPTH, ConfigError, load_repo_config
from tests.support.hostile import run_selfheal

HOSTILE = {
    # 60,000 characters of flow nesting fit in 64 KiB; PyYAML's composer recursed to death
    "deep-flow": "scan: " + "[" * 30_000 + "]" * 30_000 + "\n",
    "deep-block": "".join("  " * i + "k:\n" for i in range(200)),
    "deep-mixed": "gate:\n" + "".join("  " * i + "- x:\n" for i in range(1, 120)),
    "aliases": "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
    "python-tag": "scan: !!python/object/apply:os.system ['true']\n",
    "duplicate-key": "scan:\n  fail_on: none\nscan:\n  fail_on: critical\n",
    "top-level-list": "- 1\n- 2\n",
    "wrong-type": "scan:\n  exclude: 5\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_config_text_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_repo_config(HOSTILE[name], ".github/selfheal.yml")
    assert str(caught.value).startswith(".github/selfheal.yml")


def test_nesting_within_the_limit_still_parses() -> None:
    text = "scan:\n  exclude:\n    - vendor/**\n"
    assert load_repo_config(text).scan.exclude == ("vendor/**",)
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels"):
        load_repo_config("x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("deep-flow", HOSTILE["deep-flow"].encode(), "nested more than"),
        ("deep-block", HOSTILE["deep-block"].encode(), "nested more than"),
        ("not-utf8", b"scan:\n  fail_on: \xff\xfe\n", "cannot read"),
        ("python-tag", HOSTILE["python-tag"].encode(), "invalid YAML"),
    ],
)
def test_scan_with_a_hostile_repository_config_exits_2(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    tree = tmp_path / "tree"
    (tree / ".github").mkdir(parents=True)
    (tree / "app.py").write_text("x = 1\n")
    (tree / ".github" / "selfheal.yml").write_bytes(content)
    done = run_selfheal("scan", "--no-progress", str(tree), cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr
    explicit = tmp_path / f"{name}.yml"
    explicit.write_bytes(content)
    done = run_selfheal(
        "scan", "--no-progress", "--config", str(explicit), str(tree / "app.py"), cwd=tmp_path
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
