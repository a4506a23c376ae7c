"""GitHub App authentication: the App JWT and the installation-token cache.

- The App JWT is RS256 with ``iat`` backdated 60 s (GitHub's clock may run behind ours) and
  ``exp`` 9 minutes from now (GitHub refuses more than 10). It is reused for 5 minutes.
- Installation tokens are cached per installation id and minted again when within
  5 minutes of ``expires_at``. One mint per installation is in flight at a time (an
  asyncio lock per installation), so a burst of deliveries shares one token.
- Tokens and keys never appear in ``repr``, logs or exception messages.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from selfheal.github.client import ClientHooks, GitHubClient
from selfheal.github.ratelimit import RetryPolicy

JWT_BACKDATE = 60
JWT_LIFETIME = 9 * 60
JWT_REUSE = 5 * 60
TOKEN_REFRESH_MARGIN = 5 * 60


class AuthError(ValueError):
    """The App's credentials are unusable (the message never contains the secret)."""


def load_private_key(pem: str | bytes) -> bytes:
    """Check that ``pem`` is an RSA private key in PEM form and return it as bytes."""
    try:
        data = pem.encode() if isinstance(pem, str) else pem  # UnicodeEncodeError: a ValueError
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuthError(
            "the GitHub App private key is not a valid unencrypted PEM private key"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError("the GitHub App private key is not RSA (GitHub signs App JWTs with RS256)")
    return data


def app_jwt(app_id: str | int, private_key: str | bytes, *, now: float | None = None) -> str:
    """A signed App JWT: ``iat`` = now - 60 s, ``exp`` = now + 9 min, ``iss`` = the app id."""
    issued = int(time.time() if now is None else now)
    claims = {"iat": issued - JWT_BACKDATE, "exp": issued + JWT_LIFETIME, "iss": str(app_id)}
    return jwt.encode(claims, private_key, algorithm="RS256")


def parse_timestamp(text: str) -> float:
    """GitHub's ISO 8601 ``expires_at`` (``2016-07-11T22:14:10Z``) as epoch seconds."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class InstallationToken:
    token: str = field(repr=False)
    expires_at: float
    installation_id: int

    def fresh(self, now: float, margin: float = TOKEN_REFRESH_MARGIN) -> bool:
        return now < self.expires_at - margin

    def __repr__(self) -> str:
        return (
            f"InstallationToken(installation_id={self.installation_id}, token='***', "
            f"expires_at={self.expires_at:.0f})"
        )


@dataclass
class _AppCredential:
    auth: AppAuth

    async def get(self) -> tuple[str, str]:
        return ("jwt", self.auth.jwt())

    def invalidate(self) -> None:
        self.auth.forget_jwt()


@dataclass
class _InstallationCredential:
    auth: AppAuth
    installation_id: int

    async def get(self) -> tuple[str, str]:
        return ("token", (await self.auth.installation_token(self.installation_id)).token)

    def invalidate(self) -> None:
        self.auth.forget_token(self.installation_id)


class AppAuth:
    """A GitHub App's identity: makes JWTs, mints and caches installation tokens."""

    def __init__(
        self,
        app_id: str | int,
        private_key: str | bytes,
        *,
        session: aiohttp.ClientSession,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        hooks: ClientHooks | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` drives the token cache's expiry checks (tests move it forward); JWTs
        always use the real clock."""
        self.app_id = str(app_id)
        self._key = load_private_key(private_key)
        self.session = session
        self.base_url = base_url
        self.policy = policy
        self.hooks = hooks
        self.clock = clock
        self.mints = 0
        self._jwt: tuple[str, float] | None = None
        self._tokens: dict[int, InstallationToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self.app_id!r}, private_key='***')"

    def jwt(self) -> str:
        now = time.time()  # the real clock: GitHub checks iat/exp against its own
        if self._jwt is None or now - self._jwt[1] >= JWT_REUSE or now < self._jwt[1]:
            self._jwt = (app_jwt(self.app_id, self._key, now=now), now)
        return self._jwt[0]

    def forget_jwt(self) -> None:
        self._jwt = None

    def forget_token(self, installation_id: int) -> None:
        self._tokens.pop(installation_id, None)

    def _client(self, credential: Any) -> GitHubClient:
        return GitHubClient(
            self.session,
            credential,
            base_url=self.base_url,
            policy=self.policy,
            hooks=self.hooks,
        )

    def app_client(self) -> GitHubClient:
        """A client authenticated as the App itself (JWT): /app, installations, tokens."""
        return self._client(_AppCredential(self))

    async def installation_token(self, installation_id: int) -> InstallationToken:
        """The cached token for ``installation_id``, minted when missing or near expiry."""
        cached = self._tokens.get(installation_id)
        if cached is not None and cached.fresh(self.clock()):
            return cached
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and cached.fresh(self.clock()):
                return cached
            answer = await self.app_client().call(
                "apps.create_installation_access_token", installation_id=installation_id
            )
            self.mints += 1
            token = InstallationToken(
                token=str(answer["token"]),
                expires_at=parse_timestamp(str(answer["expires_at"])),
                installation_id=installation_id,
            )
            self._tokens[installation_id] = token
            return token

    async def installation_client(self, installation_id: int) -> GitHubClient:
        """A client acting as the installation; its token comes from the shared cache."""
        return self._client(_InstallationCredential(self, installation_id))
