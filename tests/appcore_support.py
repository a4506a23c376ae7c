"""Helpers shared by the app-core tests: a real RSA key, settings and signed deliveries."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.settings import Settings, parse_settings

SECRET = "test-webhook-secret-0123456789"


@functools.cache
def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def base_env(db: Path, **extra: str) -> dict[str, str]:
    env = {
        "SELFHEAL_APP_ID": "4242",
        "SELFHEAL_PRIVATE_KEY": rsa_pem(),
        "SELFHEAL_WEBHOOK_SECRET": SECRET,
        "SELFHEAL_DB": str(db),
        "SELFHEAL_POLL_INTERVAL": "0.05",
        "SELFHEAL_JOB_BACKOFF_SECONDS": "0",
    }
    env.update(extra)
    return env


def make_settings(db: Path, **extra: str) -> Settings:
    return parse_settings(base_env(db, **extra))


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pull_request_payload(number: int = 1, repo: str = "octo/demo") -> dict[str, Any]:
    return {
        "action": "opened",
        "number": number,
        "pull_request": {"number": number, "head": {"sha": "a" * 40}, "base": {"sha": "b" * 40}},
        "repository": {"id": 1001, "full_name": repo, "default_branch": "main"},
        "installation": {"id": 77},
        "sender": {"login": "octocat"},
    }


def delivery(
    payload: Mapping[str, Any] | None = None,
    *,
    event: str = "pull_request",
    delivery_id: str | None = None,
    secret: str = SECRET,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload if payload is not None else pull_request_payload()).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
    }
    return body, headers
