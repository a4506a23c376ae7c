"""Process settings: parsing, refusal cases, secrets never printed, `selfheal serve` exit 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from selfheal.config.settings import Secret, SettingsError, environment, parse_settings
from tests.support.appcore import SECRET, base_env, rsa_pem


def test_defaults_and_values(tmp_path: Path) -> None:
    env = base_env(tmp_path / "x.db")
    del env["SELFHEAL_DB"]
    s = parse_settings(env)
    assert s.app_id == 4242 and s.db_path == Path("selfheal.db")
    assert s.api_url == "https://api.github.com" and s.log_level == "INFO"
    assert s.webhook_secret.get() == SECRET
    s2 = parse_settings(
        base_env(tmp_path / "y.db", GITHUB_API_URL="https://ghe.example.com/api/v3/",
                 SELFHEAL_WORKERS="4", SELFHEAL_LOG_LEVEL="debug")
    )  # fmt: skip
    assert s2.api_url == "https://ghe.example.com/api/v3" and s2.workers == 4
    assert s2.log_level == "DEBUG" and s2.db_path == tmp_path / "y.db"


def test_data_dir_setting(tmp_path: Path) -> None:
    assert parse_settings(base_env(tmp_path / "x.db")).data_dir is None
    chosen = parse_settings(base_env(tmp_path / "x.db", SELFHEAL_DATA_DIR=" /srv/cache "))
    assert chosen.data_dir == Path("/srv/cache")


def test_semgrep_engine_setting(tmp_path: Path) -> None:
    assert parse_settings(base_env(tmp_path / "x.db")).semgrep_engine is None
    chosen = parse_settings(base_env(tmp_path / "x.db", SELFHEAL_SEMGREP_ENGINE=" PySemgrep "))
    assert chosen.semgrep_engine == "pysemgrep"


def test_secret_engine_setting(tmp_path: Path) -> None:
    assert parse_settings(base_env(tmp_path / "x.db")).secret_engine is None
    chosen = parse_settings(base_env(tmp_path / "x.db", SELFHEAL_SECRET_ENGINE=" Builtin "))
    assert chosen.secret_engine == "builtin"


def test_secrets_are_not_printed(tmp_path: Path) -> None:
    s = parse_settings(base_env(tmp_path / "x.db"))
    for text in (repr(s), str(s), repr(s.private_key), str(s.webhook_secret)):
        assert SECRET not in text and "PRIVATE KEY" not in text
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_key_from_path_and_escaped_newlines(tmp_path: Path) -> None:
    pem_file = tmp_path / "app.pem"
    pem_file.write_text(rsa_pem())
    env = base_env(tmp_path / "x.db")
    del env["SELFHEAL_PRIVATE_KEY"]
    env["SELFHEAL_PRIVATE_KEY_PATH"] = str(pem_file)
    assert parse_settings(env).private_key.get() == rsa_pem()
    one_line = base_env(tmp_path / "x.db", SELFHEAL_PRIVATE_KEY=rsa_pem().replace("\n", "\\n"))
    assert parse_settings(one_line).private_key.get().startswith("-----BEGIN PRIVATE KEY-----\n")


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SELFHEAL_WEBHOOK_SECRET": ""}, "SELFHEAL_WEBHOOK_SECRET is missing"),
        ({"SELFHEAL_WEBHOOK_SECRET": "short"}, "too short"),
        ({"SELFHEAL_APP_ID": ""}, "SELFHEAL_APP_ID is missing"),
        ({"SELFHEAL_APP_ID": "abc"}, "must be a number"),
        ({"SELFHEAL_PRIVATE_KEY": ""}, "private key is missing"),
        ({"SELFHEAL_PRIVATE_KEY": "not a key"}, "not a valid unencrypted PEM"),
        ({"SELFHEAL_PRIVATE_KEY": "EC"}, "not RSA"),
        ({"SELFHEAL_PRIVATE_KEY": "", "SELFHEAL_PRIVATE_KEY_PATH": "/nonexistent/k.pem"},
         "cannot read"),
        ({"SELFHEAL_LOG_LEVEL": "loud"}, "SELFHEAL_LOG_LEVEL"),
        ({"SELFHEAL_WORKERS": "-1"}, "at least 0"),
        ({"GITHUB_API_URL": "ftp://x"}, "http(s) URL"),
        ({"SELFHEAL_SEMGREP_ENGINE": "fast"}, "must be osemgrep or pysemgrep, got 'fast'"),
        ({"SELFHEAL_SECRET_ENGINE": "leaks"}, "must be auto, kingfisher, builtin, got 'leaks'"),
    ],
)  # fmt: skip
def test_refusals(tmp_path: Path, change: dict[str, str], message: str) -> None:
    env = base_env(tmp_path / "x.db")
    if change.get("SELFHEAL_PRIVATE_KEY") == "EC":
        change = {"SELFHEAL_PRIVATE_KEY": _ec_pem()}
    env.update(change)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_settings(env)


def test_dotenv_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SELFHEAL_APP_ID=11\nSELFHEAL_TEST_ONLY_VALUE=from-file\n")
    monkeypatch.setenv("SELFHEAL_APP_ID", "12")
    merged = environment(env_file)
    assert merged["SELFHEAL_APP_ID"] == "12" and merged["SELFHEAL_TEST_ONLY_VALUE"] == "from-file"


def _serve(tmp_path: Path, env: dict[str, str], port: int = 0) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "GITHUB_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "selfheal", "serve", "--port", str(port)],
        cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_serve_refuses_without_secret(tmp_path: Path) -> None:
    env = base_env(tmp_path / "x.db")
    del env["SELFHEAL_WEBHOOK_SECRET"]
    result = _serve(tmp_path, env)
    assert result.returncode == 2
    assert "SELFHEAL_WEBHOOK_SECRET is missing" in result.stderr
    assert "unsigned" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_serve_validates_the_semgrep_engine_from_dotenv(tmp_path: Path) -> None:
    """The .env file is a full settings source: the engine set there is checked at start-up."""
    (tmp_path / ".env").write_text("SELFHEAL_SEMGREP_ENGINE=turbo\n")
    result = _serve(tmp_path, base_env(tmp_path / "x.db"))
    assert result.returncode == 2 and "SELFHEAL_SEMGREP_ENGINE must be" in result.stderr


def test_serve_refuses_bad_key_without_echoing_it(tmp_path: Path) -> None:
    env = base_env(tmp_path / "x.db", SELFHEAL_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nAAAA")
    result = _serve(tmp_path, env)
    assert result.returncode == 2 and "not a valid unencrypted PEM" in result.stderr
    assert "AAAA" not in result.stderr and SECRET not in result.stderr


def test_serve_reports_unusable_db_and_busy_port(tmp_path: Path) -> None:
    result = _serve(tmp_path, base_env(tmp_path / "missing-dir" / "x.db"))
    assert result.returncode == 2 and "cannot open the ledger" in result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _serve(tmp_path, base_env(tmp_path / "x.db", SELFHEAL_WORKERS="0"), port)
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
