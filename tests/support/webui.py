"""Shared pieces of the web dashboard's tests: an HTTP client that logs in like a browser
(cookies kept, redirects shown), and what its pages say."""

from __future__ import annotations

import re
from types import TracebackType

import aiohttp

from tests.support.api_e2e import api_url
from tests.support.e2e import Server

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def post_forms(html: str) -> list[str]:
    """The actions of the page's POST forms, in order."""
    return re.findall(r'<form [^>]*method="post" action="([^"]+)"', html)


class Visitor:
    """One person's browser session with the dashboard (aiohttp, no JavaScript)."""

    def __init__(self, server: Server) -> None:
        self.base = api_url(server)
        # cookies set by 127.0.0.1 are kept only by an "unsafe" jar (an IP address, not a name)
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Visitor:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.http.close()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def post(self, path: str, form: dict[str, str]) -> aiohttp.ClientResponse:
        async with self.http.post(self.base + path, data=form, allow_redirects=False) as resp:
            await resp.read()
            return resp

    async def login(self, token: str) -> aiohttp.ClientResponse:
        """Log in as a browser does: the form first (its CSRF value and cookie), then post."""
        status, html = await self.get("/dashboard/login")
        form = {"token": token, "csrf": csrf_of(html)} if status == 200 else {"token": token}
        return await self.post("/dashboard/login", form)

    async def csrf(self, path: str = "/dashboard") -> str:
        status, html = await self.get(path)
        assert status == 200, html
        return csrf_of(html)
