"""Authentication: App JWTs (RS256 against the registered public key), installation tokens,
personal tokens, and the repository permission checks GitHub applies to each."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass

import jwt
from aiohttp import web

from .responses import ApiError, not_found
from .state import App, Installation, Repo, Token, User, World, permission_at_least

JWT_MAX_LIFETIME = 600
JWT_CLOCK_SKEW = 60
BAD_CREDENTIALS = "Bad credentials"
JWT_UNDECODABLE = "A JSON web token could not be decoded"
JWT_DOCS = "https://docs.github.com/rest/apps/apps#get-the-authenticated-app"
NOT_INTEGRATION = "Resource not accessible by integration"
NEEDS_PUSH = "Must have push access to repository"


@dataclass(frozen=True)
class Identity:
    """Who made a request: nobody, an App (JWT), or a token (person or installation)."""

    kind: str  # anonymous | app | token
    app: App | None = None
    token: Token | None = None

    @property
    def user(self) -> User | None:
        return self.token.user if self.token else None

    @property
    def installation(self) -> Installation | None:
        return self.token.installation if self.token else None

    @property
    def rate_key(self) -> str:
        """GitHub counts the primary limit per installation (all its tokens), per user, or
        per App for JWT calls."""
        if self.token and self.token.installation:
            return f"installation:{self.token.installation.id}"
        if self.token:
            return f"user:{self.token.user.login}"
        if self.app:
            return f"app:{self.app.id}"
        return "anonymous"


def credentials(header: str) -> tuple[str, str] | None:
    """(scheme, secret) from an Authorization header: ``token``/``Bearer`` values, or the
    password (else the user name) of HTTP Basic, as git sends it."""
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme in ("token", "bearer") and value:
        return scheme, value.strip()
    if scheme == "basic" and value:
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return "basic", password or user
    return None


def verify_app_jwt(world: World, token: str, now: float | None = None) -> App:
    """Check an App JWT as GitHub does: RS256 signed by the app's key, iss = app id,
    exp in the future and at most 10 minutes ahead, iat not in the future."""
    now = time.time() if now is None else now
    # Never read claims before the signature is checked: try each registered App's key, then
    # require that the verified token names that App as its issuer.
    app, claims = None, {}
    for candidate in world.apps.values():
        try:
            claims = jwt.decode(
                token,
                candidate.public_key_pem,
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["iat", "exp", "iss"],
                },
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise ApiError(401, JWT_UNDECODABLE, docs=JWT_DOCS) from exc
        app = candidate
        break
    if app is None:
        raise ApiError(401, JWT_UNDECODABLE, docs=JWT_DOCS)
    if str(claims.get("iss")) != str(app.id):
        raise ApiError(401, f"Integration not found ({claims.get('iss')})", docs=JWT_DOCS)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp <= now:
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires",
            docs=JWT_DOCS,
        )
    if exp > now + JWT_MAX_LIFETIME + JWT_CLOCK_SKEW:
        raise ApiError(
            401, "'Expiration time' claim ('exp') is too far in the future", docs=JWT_DOCS
        )
    if not isinstance(iat, int | float) or iat > now + JWT_CLOCK_SKEW:
        raise ApiError(
            401,
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued",
            docs=JWT_DOCS,
        )
    return app


def live_token(world: World, value: str) -> Token | None:
    """The token ``value`` names, or None when it is unknown or expired."""
    token = world.tokens.get(value)
    if token is None or (token.expires_at is not None and token.expires_at <= time.time()):
        return None
    return token


def identify(world: World, request: web.Request) -> Identity:
    header = request.headers.get("Authorization", "")
    if not header:
        return Identity("anonymous")
    parsed = credentials(header)
    if parsed is None:
        raise ApiError(401, BAD_CREDENTIALS)
    scheme, value = parsed
    if value.count(".") == 2 and value.startswith("eyJ") and scheme != "basic":
        return Identity("app", app=verify_app_jwt(world, value))
    token = live_token(world, value)
    if token is None:
        raise ApiError(401, BAD_CREDENTIALS)
    return Identity("token", token=token)


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(27)[:36]}"


def issue_installation_token(
    world: World, inst: Installation, lifetime: float, repos: list[str] | None = None
) -> Token:
    token = Token(
        token=new_token("ghs"),
        expires_at=time.time() + lifetime,
        user=inst.app.bot,
        installation=inst,
        repos=repos,
    )
    world.tokens[token.token] = token
    return token


def require_app(identity: Identity) -> App:
    """App-only endpoints (/app, installations, access tokens) need the App JWT."""
    if identity.app is None:
        raise ApiError(401, JWT_UNDECODABLE, docs=JWT_DOCS)
    return identity.app


def actor_of(identity: Identity) -> User:
    """The user acting (a person, or the App's bot for an installation token); 401 for
    anonymous and App JWT calls."""
    if identity.user is None:
        raise ApiError(401, "Requires authentication")
    return identity.user


def permission(identity: Identity, repo: Repo) -> str:
    """The identity's permission on ``repo``: none/read/triage/write/maintain/admin."""
    if identity.kind == "anonymous" or identity.token is None:
        return "none" if repo.private else "read"
    token = identity.token
    if token.installation is not None:
        outside = repo.full_name not in token.installation.repos or (
            token.repos is not None and repo.full_name not in token.repos
        )
        if outside:  # like any token, an installation's reads public repositories
            return "none" if repo.private else "read"
        return "write"
    have = repo.permission_of(token.user)
    if have == "none" and not repo.private:
        return "read"
    return have


def require(identity: Identity, repo: Repo, need: str) -> str:
    """Raise 404 when the repository is invisible, 403 when visible but ``need`` is missing."""
    have = permission(identity, repo)
    if have == "none":
        if identity.kind == "app":
            raise ApiError(401, "A JSON web token could not be used here", docs=JWT_DOCS)
        raise not_found()
    if not permission_at_least(have, need):
        message = NOT_INTEGRATION if identity.installation else NEEDS_PUSH
        raise ApiError(403, message)
    return have
