"""GitHubClient and AppAuth against the GitHub emulator: real HTTP on loopback, real gidgethub.

Faults come from the emulator's switches; retry bounds are small so every test stops by
itself in a few seconds at most.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import gidgethub
import jwt
import pytest
from aiohttp import web

from selfheal.emulator.emulator import Emulator
from selfheal.emulator.keys import public_key_of
from selfheal.github.auth import AppAuth, InstallationToken, app_jwt
from selfheal.github.calls import CallError
from selfheal.github.client import (
    ClientHooks,
    GitHubClient,
    GitHubGaveUp,
    api_url_from_env,
    graphql_url,
)
from selfheal.github.ratelimit import RetryPolicy

FAST = RetryPolicy(
    max_attempts=4,
    max_total=10.0,
    max_reset_wait=4.0,
    max_wait=3.0,
    backoff_base=0.02,
    backoff_cap=0.1,
    secondary_backoff=0.05,
    request_timeout=5.0,
)


@dataclass
class Recorder:
    calls: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    gave_up: list[GitHubGaveUp] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def hooks(self) -> ClientHooks:
        return ClientHooks(
            on_call=lambda *args: self.calls.append(args), on_give_up=self.gave_up.append
        )

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(seconds)

    def statuses(self, name: str) -> list[int | None]:
        return [status for call, status, _ in self.calls if call == name]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as shared:
        yield shared


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def world(github_emulator: Emulator) -> Emulator:
    github_emulator.create_repo("octo-org/service")
    github_emulator.install(["octo-org/service"])
    return github_emulator


def _installation_id(emulator: Emulator) -> int:
    return next(iter(emulator.world.installations))


def _auth(
    emulator: Emulator, session: aiohttp.ClientSession, recorder: Recorder, **kwargs: object
) -> AppAuth:
    return AppAuth(
        emulator.app.id,
        emulator.app.private_key_pem,
        session=session,
        base_url=emulator.base_url,
        policy=FAST,
        hooks=recorder.hooks(),
        **kwargs,  # type: ignore[arg-type]
    )


async def _client(
    emulator: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> GitHubClient:
    client = await _auth(emulator, session, recorder).installation_client(
        _installation_id(emulator)
    )
    client.sleep = recorder.sleep
    return client


# -- authentication -------------------------------------------------------------------------


def test_app_jwt_is_rs256_backdated_and_short_lived(github_app_private_key: bytes) -> None:
    now = time.time()
    token = app_jwt(123, github_app_private_key, now=now)
    claims = jwt.decode(
        token,
        public_key_of(github_app_private_key),
        algorithms=["RS256"],
        options={"verify_iat": False},
    )
    assert claims["iss"] == "123"
    assert claims["iat"] == int(now) - 60
    assert 0 < claims["exp"] - int(now) <= 600
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


async def test_the_app_jwt_is_accepted(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    app_client = _auth(world, session, recorder).app_client()
    me = await app_client.call("apps.get_authenticated")
    assert me["id"] == world.app.id
    installations = [i async for i in app_client.paginate("apps.list_installations")]
    assert [i["id"] for i in installations] == [_installation_id(world)]


async def test_a_jwt_signed_with_another_key_is_refused(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    from selfheal.emulator.keys import generate_private_key

    stranger = AppAuth(
        world.app.id, generate_private_key(), session=session, base_url=world.base_url
    )
    with pytest.raises(gidgethub.BadRequest) as caught:
        await stranger.app_client().call("apps.get_authenticated")
    assert caught.value.status_code == 401


async def test_one_token_mint_serves_many_concurrent_calls(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    auth = _auth(world, session, recorder)
    clients = [await auth.installation_client(_installation_id(world)) for _ in range(3)]
    repos = await asyncio.gather(
        *(c.call("repos.get", owner="octo-org", repo="service") for c in clients * 4)
    )
    assert {r["full_name"] for r in repos} == {"octo-org/service"}
    assert auth.mints == 1
    assert recorder.statuses("apps.create_installation_access_token") == [201]


async def test_the_token_is_refreshed_near_expiry(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    skew = {"now": 0.0}
    auth = _auth(world, session, recorder, clock=lambda: time.time() + skew["now"])
    first = await auth.installation_token(_installation_id(world))
    ttl = first.expires_at - time.time()
    skew["now"] = ttl - 6 * 60  # six minutes before expiry: still fresh
    assert await auth.installation_token(_installation_id(world)) is first
    skew["now"] = ttl - 4 * 60  # inside the five-minute margin: mint again
    second = await auth.installation_token(_installation_id(world))
    assert second.token != first.token
    assert auth.mints == 2


async def test_a_revoked_token_is_minted_again_once(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    auth = _auth(world, session, recorder)
    client = await auth.installation_client(_installation_id(world))
    await client.call("repos.get", owner="octo-org", repo="service")
    for value in [t for t, tok in world.world.tokens.items() if tok.installation is not None]:
        del world.world.tokens[value]
    repo = await client.call("repos.get", owner="octo-org", repo="service")
    assert repo["name"] == "service"
    assert auth.mints == 2
    assert recorder.statuses("repos.get") == [200, 401, 200]


async def test_a_revoked_token_is_minted_again_for_pagination_too(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    auth = _auth(world, session, recorder)
    client = await auth.installation_client(_installation_id(world))
    await client.call("issues.create", owner="octo-org", repo="service", data={"title": "t"})
    for value in [t for t, tok in world.world.tokens.items() if tok.installation is not None]:
        del world.world.tokens[value]
    issues = [
        issue["title"]
        async for issue in client.paginate("issues.list_for_repo", owner="octo-org", repo="service")
    ]
    assert issues == ["t"]
    assert auth.mints == 2
    assert recorder.statuses("issues.list_for_repo") == [401, 200]


def test_secrets_never_show_in_repr(github_app_private_key: bytes) -> None:
    token = InstallationToken("ghs_secretvalue", time.time() + 3600, 7)
    assert "ghs_secretvalue" not in repr(token)
    assert "ghs_secretvalue" not in str(token)
    client = GitHubClient.for_token("ghp_secretvalue", session=None)  # type: ignore[arg-type]
    assert "ghp_secretvalue" not in repr(client)
    auth = AppAuth(1, github_app_private_key, session=None)  # type: ignore[arg-type]
    assert "PRIVATE" not in repr(auth)


# -- calls and pagination -------------------------------------------------------------------


async def test_pagination_follows_link_headers(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    for n in range(7):
        await client.call(
            "issues.create", owner="octo-org", repo="service", data={"title": f"issue {n}"}
        )
    titles = [
        issue["title"]
        async for issue in client.paginate(
            "issues.list_for_repo", owner="octo-org", repo="service", state="all", per_page=2
        )
    ]
    assert sorted(titles) == [f"issue {n}" for n in range(7)]
    assert recorder.statuses("issues.list_for_repo") == [200, 200, 200, 200]


async def test_unknown_calls_and_bad_parameters_are_refused(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    with pytest.raises(CallError):
        await client.call("repos.delete", owner="octo-org", repo="service")
    with pytest.raises(CallError):
        await client.call("repos.get_content", owner="octo-org", repo="service", path="../x")
    with pytest.raises(ValueError):
        await client.call("repos.get", owner="octo-org", repo="service", data={"x": 1})
    assert recorder.calls == []


async def test_a_404_surfaces_as_gidgethub_bad_request(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    with pytest.raises(gidgethub.BadRequest) as caught:
        await client.call("issues.get", owner="octo-org", repo="service", issue_number=999)
    assert caught.value.status_code == 404
    assert recorder.statuses("issues.get") == [404]
    assert recorder.gave_up == []


# -- faults ---------------------------------------------------------------------------------


async def test_a_5xx_burst_is_retried_then_succeeds(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    world.faults.server_errors(2, status=502)
    repo = await client.call("repos.get", owner="octo-org", repo="service")
    assert repo["name"] == "service"
    assert recorder.statuses("repos.get") == [200, 502, 502, 200]
    assert len(recorder.sleeps) == 2 and all(0 < s <= FAST.backoff_cap for s in recorder.sleeps)


async def test_a_post_is_not_retried_after_an_ambiguous_500(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")  # mint first
    world.faults.server_errors(3, status=500)
    with pytest.raises(GitHubGaveUp) as caught:
        await client.call(
            "issues.create", owner="octo-org", repo="service", data={"title": "once only"}
        )
    assert caught.value.status == 500
    assert "POST" in caught.value.reason
    assert recorder.statuses("issues.create") == [500]
    assert recorder.gave_up == [caught.value]


async def test_a_post_is_retried_after_a_503(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    world.faults.server_errors(1, status=503)
    issue = await client.call(
        "issues.create", owner="octo-org", repo="service", data={"title": "after 503"}
    )
    assert issue["title"] == "after 503"
    assert recorder.statuses("issues.create") == [503, 201]


async def test_a_secondary_limit_honours_retry_after(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    world.faults.secondary_rate_limit(1, retry_after=1)
    comment_target = await client.call(
        "issues.create", owner="octo-org", repo="service", data={"title": "t"}
    )
    assert comment_target["title"] == "t"
    assert recorder.statuses("issues.create") == [403, 201]
    assert recorder.sleeps == [1.0]


async def test_a_secondary_limit_beyond_the_bound_gives_up(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    world.faults.secondary_rate_limit(1, retry_after=3600, status=429)
    with pytest.raises(GitHubGaveUp) as caught:
        await client.call("repos.get", owner="octo-org", repo="service")
    assert "secondary rate limit" in caught.value.reason
    assert caught.value.status == 429
    assert recorder.sleeps == []


async def test_primary_exhaustion_waits_for_the_reset(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    world.faults.exhaust_rate_limit(reset_in=1.0)
    repo = await client.call("repos.get", owner="octo-org", repo="service")
    assert repo["name"] == "service"
    assert recorder.statuses("repos.get") == [200, 403, 200]
    assert len(recorder.sleeps) == 1 and 1.0 <= recorder.sleeps[0] <= FAST.max_reset_wait


async def test_primary_exhaustion_past_the_bound_gives_up_naming_the_reason(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    world.faults.exhaust_rate_limit(reset_in=3600)
    with pytest.raises(GitHubGaveUp) as caught:
        await client.call("repos.get", owner="octo-org", repo="service")
    assert "primary rate limit" in caught.value.reason
    assert caught.value.call == "repos.get"
    assert recorder.sleeps == []
    assert recorder.gave_up == [caught.value]


async def test_endless_server_errors_stop_at_the_attempt_bound(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    world.faults.server_errors(1000, status=502)
    with pytest.raises(GitHubGaveUp) as caught:
        await client.call("repos.get", owner="octo-org", repo="service")
    assert caught.value.attempts == FAST.max_attempts
    assert recorder.statuses("repos.get") == [200] + [502] * FAST.max_attempts


async def test_a_slow_response_times_out_and_is_retried(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    client = await _client(world, session, recorder)
    await client.call("repos.get", owner="octo-org", repo="service")
    # Generous against a loaded machine: a loopback GET answers far inside 1.5 s.
    client.policy = RetryPolicy(
        max_attempts=3, backoff_base=0.01, backoff_cap=0.02, request_timeout=1.5
    )
    world.faults.slow(4.0, count=1)
    repo = await client.call("repos.get", owner="octo-org", repo="service")
    assert repo["name"] == "service"
    assert recorder.statuses("repos.get") == [200, None, 200]


async def test_nothing_listening_gives_up_after_bounded_attempts(
    session: aiohttp.ClientSession, recorder: Recorder, unused_tcp_port: int
) -> None:
    client = GitHubClient.for_token(
        "ghs_x",
        session=session,
        base_url=f"http://127.0.0.1:{unused_tcp_port}",
        policy=FAST,
        hooks=recorder.hooks(),
    )
    client.sleep = recorder.sleep
    with pytest.raises(GitHubGaveUp) as caught:
        await client.call("rate_limit.get")
    assert caught.value.status is None
    assert "could not connect" in caught.value.reason
    assert len(recorder.calls) == FAST.max_attempts


def test_the_api_url_comes_from_the_environment() -> None:
    assert api_url_from_env({}) == "https://api.github.com"
    assert api_url_from_env({"GITHUB_API_URL": "https://ghe.example/api/v3/"}) == (
        "https://ghe.example/api/v3"
    )


def test_requests_never_leave_the_base_url() -> None:
    client = GitHubClient.for_token("t", session=None, base_url="https://ghe.example/api/v3")  # type: ignore[arg-type]
    assert client.owns("https://ghe.example/api/v3/repos/o/r?page=2")
    assert not client.owns("https://api.github.com/repos/o/r?page=2")
    assert not client.owns("http://ghe.example/api/v3/repos")
    assert not client.owns("https://ghe.example/api/v4/repos")
    assert client.owns("https://ghe.example/api/graphql")
    assert not client.owns("https://ghe.example:8443/api/v3/repos")


# -- base URL handling (GitHub Enterprise Server shape) -------------------------------------


@dataclass
class Seen:
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)


@pytest.fixture
async def ghes(unused_tcp_port: int) -> AsyncIterator[tuple[str, Seen]]:
    """A small server that answers like GHES under /api/v3 and /api/graphql, recording
    each request's method, path and Authorization header."""
    seen = Seen()
    port = unused_tcp_port

    async def handle(request: web.Request) -> web.Response:
        seen.requests.append(
            (request.method, request.path_qs, request.headers.get("Authorization"))
        )
        if request.path == "/api/graphql":
            return web.json_response({"data": {"markPullRequestReadyForReview": {}}})
        if request.path.endswith("/labels"):
            nxt = "https://elsewhere.example/api/v3/repos/o/r/labels?page=2"
            return web.json_response([{"name": "a"}], headers={"Link": f'<{nxt}>; rel="next"'})
        return web.json_response({"full_name": "o/r"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/api/v3", seen
    finally:
        await runner.cleanup()


async def test_a_base_url_with_a_path_prefix_is_kept_and_graphql_goes_beside_it(
    ghes: tuple[str, Seen], session: aiohttp.ClientSession
) -> None:
    base, seen = ghes
    client = GitHubClient.for_token("ghs_x", session=session, base_url=base + "/")
    assert (await client.call("repos.get", owner="o", repo="r"))["full_name"] == "o/r"
    await client.graphql("pulls.mark_ready_for_review", id="PR_1")
    assert [(m, p) for m, p, _ in seen.requests] == [
        ("GET", "/api/v3/repos/o/r"),
        ("POST", "/api/graphql"),
    ]
    assert all(auth == "token ghs_x" for _, _, auth in seen.requests)
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"


async def test_a_link_to_another_host_is_not_followed(
    ghes: tuple[str, Seen], session: aiohttp.ClientSession
) -> None:
    base, seen = ghes
    client = GitHubClient.for_token("ghs_x", session=session, base_url=base)
    names = []
    with pytest.raises(CallError, match="refusing"):
        async for label in client.paginate("issues.list_labels_for_repo", owner="o", repo="r"):
            names.append(label["name"])
    assert names == ["a"]
    assert len(seen.requests) == 1


async def test_unregistered_graphql_and_jwt_graphql_are_refused(
    world: Emulator, session: aiohttp.ClientSession, recorder: Recorder
) -> None:
    app_client = _auth(world, session, recorder).app_client()
    with pytest.raises(CallError):
        await app_client.graphql("repos.delete_everything")
    with pytest.raises(ValueError, match="token"):
        await app_client.graphql("pulls.mark_ready_for_review", id="PR_1")
