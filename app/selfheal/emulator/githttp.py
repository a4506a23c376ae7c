"""Git smart HTTP: each request runs ``git http-backend`` as a CGI subprocess.

URL: http://127.0.0.1:PORT/{owner}/{repo}.git/... ; HTTP Basic auth where the password is an
installation token (user ``x-access-token``) or a person's token. Fetch needs read access
(public repositories need no credentials), push needs write; ``refs/pull/*`` is read-only.
A receive-pack request is bracketed by ref snapshots; the difference becomes ``push`` /
``pull_request.synchronize`` / ``check_suite.requested`` webhooks.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from . import gitdata
from .auth import Identity, credentials, live_token, permission
from .context import emu
from .state import permission_at_least

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
CHUNK = 64 * 1024
SERVICES = {"git-upload-pack": "read", "git-receive-pack": "write"}


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)


def _unauthorized() -> web.Response:
    return _text(401, "Authentication required", {"WWW-Authenticate": 'Basic realm="GitHub"'})


async def handle(request: web.Request) -> web.StreamResponse:
    e = emu(request)
    owner, name, tail = (request.match_info[k] for k in ("owner", "name", "tail"))
    repo = e.world.repo(owner, name)
    if repo is None:
        return _text(404, "Repository not found.")
    service = request.query.get("service") if tail == "info/refs" else tail
    if service not in SERVICES:
        return _text(404, "Not Found")
    rel = repo.path.relative_to(e.root / "git")
    header = request.headers.get("Authorization", "")
    if not header and not repo.private and SERVICES[service] == "read":
        return await _run_backend(request, rel, tail, "", e.root)  # anyone may fetch
    parsed = credentials(header) if header else None
    token = live_token(e.world, parsed[1]) if parsed else None
    if token is None:
        return _unauthorized()
    ident = Identity("token", token=token)
    have = permission(ident, repo)
    if have == "none":
        return _text(404, "Repository not found.")
    if not permission_at_least(have, SERVICES[service]):
        return _text(403, f"Permission to {repo.full_name}.git denied to {token.user.login}.")
    if not (service == "git-receive-pack" and request.method == "POST"):
        return await _run_backend(request, rel, tail, token.user.login, e.root)
    async with e.push_lock(repo):  # one push per repository at a time: clean before/after

        def pushed() -> None:
            after = gitdata.refs(gitdata.open_repo(repo.path))
            e.refs_changed(repo, before, after, token.user)

        before = gitdata.refs(gitdata.open_repo(repo.path))
        return await _run_backend(request, rel, tail, token.user.login, e.root, pushed)


async def _run_backend(
    request: web.Request,
    rel: Path,
    tail: str,
    user: str,
    root: Path,
    before_reply: Callable[[], None] | None = None,
) -> web.StreamResponse:
    """Run git http-backend. With ``before_reply`` (pushes) the whole output is held back
    until the backend has exited and ``before_reply`` ran, so a client that continues as soon
    as it reads the push report already finds the webhooks queued and the PRs updated."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PROJECT_ROOT": f"{root}/git",
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{rel}/{tail}",
        "REMOTE_USER": user,
        "REMOTE_ADDR": request.remote or "127.0.0.1",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query_string,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "GATEWAY_INTERFACE": "CGI/1.1",
        # refs/pull/* is GitHub's: fetchable, but hidden from pushes (updates are refused
        # with "deny updating a hidden ref")
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "receive.hideRefs",
        "GIT_CONFIG_VALUE_0": gitdata.PULL_REFS.rstrip("/"),
    }
    protocol = request.headers.get("Git-Protocol")
    if protocol:
        env["HTTP_GIT_PROTOCOL"] = env["GIT_PROTOCOL"] = protocol
    proc = await asyncio.create_subprocess_exec(
        HTTP_BACKEND,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    feeder = asyncio.create_task(_feed(request, proc.stdin))
    status, headers = await _cgi_headers(proc.stdout)
    if before_reply is not None:
        output = await proc.stdout.read()
        await feeder
        await proc.stderr.read()
        await proc.wait()
        before_reply()
        return web.Response(status=status, headers=headers, body=output)
    response = web.StreamResponse(status=status, headers=headers)
    await response.prepare(request)
    try:
        while chunk := await proc.stdout.read(CHUNK):
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:  # the client hung up once it had what it needed
        pass
    finally:
        await feeder
        await proc.stdout.read()
        await proc.stderr.read()
        await proc.wait()
    return response


async def _feed(request: web.Request, stdin: asyncio.StreamWriter) -> None:
    """Stream the request body to the backend. aiohttp's server already inflates bodies sent
    with ``Content-Encoding: gzip`` (git does that for large fetch negotiations), so the
    backend always sees plain pkt-lines."""
    try:
        async for chunk in request.content.iter_chunked(CHUNK):
            stdin.write(chunk)
            await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        stdin.close()


async def _cgi_headers(stdout: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    status, headers = 200, dict[str, str]()
    while True:
        line = (await stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return status, headers
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers[key.strip()] = value.strip()


def setup(router: web.UrlDispatcher) -> None:
    router.add_route("GET", "/{owner}/{name}.git/{tail:.*}", handle)
    router.add_route("POST", "/{owner}/{name}.git/{tail:.*}", handle)
