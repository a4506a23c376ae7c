"""End to end: the web dashboard on a real server with the GitHub emulator, through HTTP as a
browser without JavaScript sees it (cookies, forms, redirects)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from selfheal.api import tokens
from selfheal.config.settings import parse_settings
from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from selfheal.ledger import Ledger, audit, requests
from selfheal.registry import compose
from selfheal.runtime.server import create_app
from tests.support.api_e2e import client, make_token
from tests.support.e2e import BASE_FILES, REPO, Server, env_for, until
from tests.support.requests_e2e import REQUEST
from tests.support.webui import Visitor, csrf_of, post_forms

HOSTILE = 'Fix <script>alert("pwned")</script> and <img src=x onerror=alert(1)> now.'


def locked(repo: Repo) -> bool:
    return any("selfheal:halt" in [x.name for x in i.labels] for i in repo.issues.values())


async def started(emu: Emulator, tmp_path: Path) -> tuple[Repo, Server]:
    repo = emu.create_repo(REPO, BASE_FILES)
    server = await Server.start(emu, tmp_path / "ledger.db")
    emu.install([repo])
    await until(lambda: REQUEST in repo.labels, what="labels created")
    return repo, server


async def test_login_sets_a_safe_cookie_and_logout_ends_the_session(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    _, server = await started(github_emulator, tmp_path)
    try:
        value = make_token(server, "reader", [REPO], ("read",))
        scanner = make_token(server, "scanner", [REPO], ("scan",))
        async with Visitor(server) as web:
            status, _ = await web.get("/dashboard")
            assert status == 303  # to the login form
            status, html = await web.get("/dashboard/login")
            assert status == 200 and '<label for="token">' in html
            bad = await web.login("shk_" + "A" * 43)
            assert bad.status == 401
            no_read = await web.login(scanner)
            assert no_read.status == 403
            resp = await web.login(value)
            assert resp.status == 303 and resp.headers["Location"] == "/dashboard"
            cookie = resp.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
            assert value not in cookie and "reader" not in cookie
            status, html = await web.get("/dashboard")
            assert status == 200 and REPO in html and "<h1>Repositories</h1>" in html
            for path in ("/dashboard/requests", "/dashboard/monitor", "/dashboard/notifications",
                         "/dashboard/audit"):  # fmt: skip
                status, html = await web.get(path)
                assert status == 200, path
            csrf = csrf_of(html)
            verified = await web.http.post(web.base + "/dashboard/audit/verify",
                                           data={"csrf": csrf})  # fmt: skip
            assert verified.status == 200 and "The chain verifies" in await verified.text()
            out = await web.post("/dashboard/logout", {"csrf": csrf})
            assert out.status == 303
            status, _ = await web.get("/dashboard")
            assert status == 303
        logins = server.ledger.read(lambda c: audit.entries(c, action="webui.login"))
        assert [e.actor for e in logins] == ["api:reader"]
        assert not any(value in str(e.to_dict()) for e in server.audit())
    finally:
        await server.stop()


async def test_a_read_only_token_sees_no_buttons_and_its_post_is_refused(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    repo, server = await started(github_emulator, tmp_path)
    try:
        reader = make_token(server, "reader", [REPO], ("read",))
        async with Visitor(server) as web:
            await web.login(reader)
            status, html = await web.get("/dashboard")
            assert status == 200
            assert post_forms(html) == ["/dashboard/logout"]
            refused = await web.post("/dashboard/halt", {"csrf": csrf_of(html)})
            assert refused.status == 403
        assert not locked(repo)
        (call,) = server.audit("api.call")
        assert call.actor == "api:reader" and call.details["status"] == 403
        assert call.details["via"] == "dashboard"
    finally:
        await server.stop()


async def test_a_forged_form_post_is_refused_and_does_nothing(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    repo, server = await started(github_emulator, tmp_path)
    try:
        ops = make_token(server, "ops", [REPO], ("read", "halt"))
        async with Visitor(server) as stranger:  # no session at all
            assert (await stranger.post("/dashboard/halt", {"csrf": "x"})).status == 403
        async with Visitor(server) as web:
            await web.login(ops)
            assert (await web.post("/dashboard/halt", {})).status == 403
            assert (await web.post("/dashboard/halt", {"csrf": "forged"})).status == 403
            other = Visitor(server)
            async with other:
                await other.login(ops)
                theirs = await other.csrf()
            assert (await web.post("/dashboard/halt", {"csrf": theirs})).status == 403
        assert not locked(repo)
        assert server.audit("api.call") == []  # nothing reached the operation
    finally:
        await server.stop()


async def test_the_halt_button_halts_and_the_page_shows_it(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    repo, server = await started(github_emulator, tmp_path)
    try:
        ops = make_token(server, "ops", [REPO], ("read", "halt"))
        async with Visitor(server) as web:
            await web.login(ops)
            status, html = await web.get("/dashboard")
            assert status == 200
            assert post_forms(html) == ["/dashboard/logout", "/dashboard/halt", "/dashboard/resume"]
            done = await web.post("/dashboard/halt", {"csrf": csrf_of(html)})
            assert done.status == 303 and done.headers["Location"] == "/dashboard?done=halted"
            await until(lambda: locked(repo), what="the lock label")

            async def shows_halted() -> bool:
                return '<span class="halted">halted</span>' in (await web.get("/dashboard"))[1]

            for _ in range(200):
                if await shows_halted():
                    break
                await asyncio.sleep(0.05)  # the state follows the label's webhook
            assert await shows_halted()
            resumed = await web.post("/dashboard/resume", {"csrf": csrf_of(html)})
            assert resumed.status == 303
            await until(lambda: not locked(repo), what="the lock label removed")
        (halted, _) = reversed(server.audit("api.call"))  # oldest first: halt, then resume
        assert halted.details["route"] == "/api/code/halt" and halted.details["status"] == 200
    finally:
        await server.stop()


async def test_a_request_page_escapes_the_issue_text(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    _, server = await started(github_emulator, tmp_path)
    try:
        value = make_token(server, "filer", [REPO], ("request", "read"))
        async with client(server, value) as sdk:
            created = await sdk.request_change(HOSTILE, target_files=["app/util.py"])
        change_id = created["change_id"]
        await until(lambda: server.ledger.read(lambda c: requests.get(c, change_id)),
                    what="the request recorded")  # fmt: skip
        async with Visitor(server) as web:
            await web.login(value)
            status, listing = await web.get(f"/dashboard/requests?repository={REPO}")
            assert status == 200 and change_id in listing
            status, html = await web.get(f"/dashboard/requests/{change_id}")
            assert status == 200
            assert "<script>" not in html and "<img" not in html
            assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
            assert "api.request_filed" in html  # the timeline from the audit log
            status, _ = await web.get("/dashboard/requests/req_" + "Z" * 16)
            assert status == 404
    finally:
        await server.stop()


async def test_the_approve_button_follows_the_api_rules(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    emu.person("alice", "write")
    emu.person("bob", "write")
    _, server = await started(emu, tmp_path)
    try:
        filer = make_token(server, "filer", [REPO], ("request", "read"))
        async with client(server, filer) as sdk:
            asked = await sdk.request_change("Round charges.", target_files=["payments/charge.py"])
            await sdk.wait(asked["change_id"], until={"awaiting_approval"}, timeout=60,
                           interval=0.1)  # fmt: skip
        path = f"/dashboard/requests/{asked['change_id']}"
        async with Visitor(server) as web:  # no approve scope: no button
            await web.login(filer)
            _, html = await web.get(path)
            assert post_forms(html) == ["/dashboard/logout"]
        bob = make_token(server, "bob", [REPO], ("approve", "read"), login="bob")
        async with Visitor(server) as web:  # the scope, but not an owner of the target
            await web.login(bob)
            _, html = await web.get(path)
            assert f"{path}/approve" in post_forms(html)
            refused = await web.post(f"{path}/approve", {"csrf": csrf_of(html)})
            assert refused.status == 403
            _, html = await web.get(path)
            assert '<strong id="state">awaiting_approval</strong>' in html
        alice = make_token(server, "alice", [REPO], ("approve", "read"), login="alice")
        async with Visitor(server) as web:
            await web.login(alice)
            _, html = await web.get(path)
            done = await web.post(f"{path}/approve", {"csrf": csrf_of(html)})
            assert done.status == 303 and done.headers["Location"] == f"{path}?done=approved"
            _, html = await web.get(path)
            assert "awaiting_approval</strong>" not in html
        statuses = [(e.actor, e.details["status"]) for e in reversed(server.audit("api.call"))]
        assert ("api:bob", 403) in statuses and ("api:alice", 200) in statuses
    finally:
        await server.stop()


def self_signed(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a throwaway certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def test_over_tls_the_session_cookie_is_secure(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    settings = parse_settings(env_for(github_emulator, tmp_path / "ledger.db"))
    ledger = Ledger.open(tmp_path / "ledger.db")
    app = create_app(settings, ledger=ledger, wiring=compose(), start_worker=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed(tmp_path))
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        _, value = ledger.write(lambda c: tokens.create(c, "reader", scopes=["read"],
                                                        repositories=[REPO]))  # fmt: skip
        url = f"https://127.0.0.1:{port}/dashboard/login"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(url, ssl=False) as resp:
                form = await resp.text()
                login_cookie = resp.headers["Set-Cookie"]
            async with http.post(url, ssl=False, allow_redirects=False,
                                 data={"token": value, "csrf": csrf_of(form)}) as resp:  # fmt: skip
                assert resp.status == 303
                cookie = next(c for c in resp.headers.getall("Set-Cookie")
                              if c.startswith("selfheal_session="))  # fmt: skip
        for made in (cookie, login_cookie):
            assert "Secure" in made and "HttpOnly" in made and "SameSite=Strict" in made
    finally:
        await runner.cleanup()
        ledger.close()


async def test_a_login_posted_from_elsewhere_is_refused(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    """Login CSRF: a post without the form's value (another site's form cannot read it, and
    the browser sends it no cookie) logs nobody in, however good the token."""
    _, server = await started(github_emulator, tmp_path)
    try:
        ops = make_token(server, "ops", [REPO], ("read", "halt"), login="alice")
        async with Visitor(server) as web:
            forged = await web.post("/dashboard/login", {"token": ops})
            assert forged.status == 403 and "selfheal_session" not in forged.cookies
            status, _ = await web.get("/dashboard/login")
            assert status == 200  # the form (and its cookie) were handed out
            wrong = await web.post("/dashboard/login", {"token": ops, "csrf": "x" * 43})
            assert wrong.status == 403 and "selfheal_session" not in wrong.cookies
            status, _ = await web.get("/dashboard")
            assert status == 303  # still not logged in
            done = await web.login(ops)
            assert done.status == 303 and "selfheal_session" in done.cookies
    finally:
        await server.stop()


async def test_hostile_input_to_the_dashboard_is_refused(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    _, server = await started(github_emulator, tmp_path)
    try:
        ops = make_token(server, "ops", [REPO], ("read", "approve", "halt"), login="alice")
        async with Visitor(server) as web:
            big = await web.post("/dashboard/login", {"token": "x" * 20_000})
            assert big.status == 413
            web.http.cookie_jar.update_cookies({"selfheal_session": "guessed"})
            status, _ = await web.get("/dashboard")
            assert status == 303  # an unknown session id is no session
            await web.login(ops)
            csrf = await web.csrf()
            for junk in ("req_..%2F..%2Fetc", "req_" + "A" * 16, "%3Cscript%3E"):
                status, html = await web.get(f"/dashboard/requests/{junk}")
                assert status == 404 and "<script>" not in html
                refused = await web.post(f"/dashboard/requests/{junk}/approve", {"csrf": csrf})
                assert refused.status == 404
            status, html = await web.get("/dashboard/requests?repository=evil/other&state=<x>")
            assert status == 200 and "evil/other" not in html and "<x>" not in html
            status, _ = await web.get("/dashboard/requests?offset=-5")
            assert status == 200
    finally:
        await server.stop()
