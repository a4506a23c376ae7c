"""Run the emulator by hand::

    python -m selfheal.emulator --port 8080 --repo acme/widgets --person alice:write \
        --webhook-url http://127.0.0.1:3000/webhook

Prints the base URL, the App id, where its private key and webhook secret were written, the
installation id, and where each person's token was written (files are mode 0600; secrets are
never printed). Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
from pathlib import Path

from .emulator import Emulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m selfheal.emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--root", type=Path, default=None, help="state dir (default: a temp dir)")
    p.add_argument("--app-name", default="selfheal")
    p.add_argument("--webhook-url", default=None)
    p.add_argument("--repo", action="append", default=[], help="owner/name (repeatable)")
    p.add_argument("--person", action="append", default=[], help="login:permission (repeatable)")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> None:
    root = args.root or Path(tempfile.mkdtemp(prefix="github-emulator-"))
    root.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(root)
    url = await emulator.start(args.host, args.port)
    app = emulator.create_app(args.app_name, webhook_url=args.webhook_url)
    key_path = root / "app-private-key.pem"
    key_path.write_bytes(app.private_key_pem)
    key_path.chmod(0o600)
    secret_path = root / "webhook-secret.txt"
    secret_path.write_text(app.webhook_secret)
    secret_path.chmod(0o600)
    print(f"GitHub emulator: {url}")
    print(f"app id: {app.id}  slug: {app.slug}")
    print(f"private key: {key_path}")
    print(f"webhook secret file: {secret_path}")
    repos = [emulator.create_repo(name) for name in (args.repo or ["acme/widgets"])]
    inst = emulator.install(repos)
    print(f"installation id: {inst.id}  repos: {', '.join(r.full_name for r in repos)}")
    for spec in args.person:
        login, _, permission = spec.partition(":")
        person = emulator.person(login, permission or "write")
        token_path = root / f"person-{login}.token"
        token_path.write_text(person.token)
        token_path.chmod(0o600)
        print(f"person {login} ({permission or 'write'}) token file: {token_path}")
    print("clone: git clone " + url + "/" + repos[0].full_name + ".git", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    asyncio.run(serve(args, asyncio.Event()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
