"""The GitHub boundary as the rest of selfheal sees it: a typed Protocol.

Features and the runtime talk to GitHub only through this interface. The real implementation
is :class:`selfheal.github.client.GitHubClient` (every call is a named entry of the call
list); tests may hand in anything with the same methods, such as a client pointed at the
emulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class Credential(Protocol):
    """Where a client's authentication comes from (see :mod:`selfheal.github.auth`)."""

    async def get(self) -> tuple[str, str]:
        """``("jwt", value)`` or ``("token", value)``."""
        ...

    def invalidate(self) -> None:
        """Forget a cached value that GitHub rejected (401)."""
        ...


class GitHubAPI(Protocol):
    """What a job may ask of GitHub: registered REST calls, pagination and GraphQL."""

    credential: Credential | None

    async def call(
        self, name: str, /, *, data: Any = None, accept: str | None = None, **params: Any
    ) -> Any: ...

    def paginate(
        self, name: str, /, *, per_page: int = 100, **params: Any
    ) -> AsyncIterator[Any]: ...

    async def graphql(self, name: str, /, **variables: Any) -> Any: ...

    async def download(self, name: str, /, *, max_bytes: int, **params: Any) -> bytes: ...
