"""Hostile settings: a private-key path that is a device, a directory, huge or binary is a
clear SettingsError (and `selfheal serve` exit 2), never a hang or a memory blow-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.config.settings import SettingsError, parse_settings
from tests.support.appcore import base_env, rsa_pem
from tests.support.hostile import run_selfheal


def _key_path(tmp_path: Path, kind: str) -> str:
    if kind == "dev-zero":
        return "/dev/zero"  # endless NUL bytes, all valid ASCII: read_text never returned
    target = tmp_path / "key.pem"
    if kind == "directory":
        target.mkdir()
    elif kind == "huge":
        target.write_bytes(b"A" * (2 * 1024 * 1024))
    elif kind == "binary":
        target.write_bytes(bytes(range(256)))
    return str(target)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("dev-zero", "larger than 64 KiB"),
        ("directory", "cannot read the private key file"),
        ("huge", "larger than 64 KiB"),
        ("binary", "cannot read the private key file"),
        ("missing", "cannot read the private key file"),
    ],
)
def test_private_key_path_oddities_are_settings_errors(
    tmp_path: Path, kind: str, message: str
) -> None:
    env = base_env(tmp_path / "s.db")
    env.pop("SELFHEAL_PRIVATE_KEY")
    env["SELFHEAL_PRIVATE_KEY_PATH"] = _key_path(tmp_path, kind)
    with pytest.raises(SettingsError, match=message):
        parse_settings(env)


def test_a_key_the_app_could_not_use_is_refused_at_start_up(tmp_path: Path) -> None:
    """An undecodable byte in the environment (os.environ keeps it as a surrogate) before the
    PEM block: settings once accepted it and AppAuth then refused it on the first GitHub call."""
    env = base_env(tmp_path / "s.db")
    env["SELFHEAL_PRIVATE_KEY"] = "\udcff\n" + rsa_pem()
    with pytest.raises(SettingsError, match="not a valid unencrypted PEM private key"):
        parse_settings(env)


def test_serve_with_dev_zero_as_the_key_exits_2(tmp_path: Path) -> None:
    env = base_env(tmp_path / "s.db")
    env.pop("SELFHEAL_PRIVATE_KEY")
    env["SELFHEAL_PRIVATE_KEY_PATH"] = "/dev/zero"
    done = run_selfheal(
        "serve", "--port", "0", "--env-file", str(tmp_path / "none.env"),
        cwd=tmp_path, clean_env=True, env=env,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "larger than 64 KiB" in done.stderr and "Traceback" not in done.stderr
