"""Structured logs: JSON lines or text, and no token, key or secret ever in the output."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest

from selfheal.runtime.logs import MASK, mask, setup_logging
from tests.support.appcore import SECRET, rsa_pem

# A JWT is built at run time, so no literal token sits in the repository.
JWT_PARTS = (b'{"alg":"RS256"}', b'{"iss":"42"}')

TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
PAT = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = setup_logging("DEBUG", secrets=[SECRET, rsa_pem()], stream=out, json_lines=True)
    yield out
    logging.getLogger().removeHandler(handler)


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_with_extra_fields(stream: io.StringIO) -> None:
    logging.getLogger("app.test").info("hello %s", "world", extra={"delivery": "d-1", "n": 3})
    (entry,) = _lines(stream)
    assert entry["msg"] == "hello world" and entry["level"] == "info"
    assert entry["logger"] == "app.test" and entry["delivery"] == "d-1" and entry["n"] == 3
    assert str(entry["ts"]).endswith("Z")


def test_token_passed_to_log_call_never_appears(stream: io.StringIO) -> None:
    log = logging.getLogger("app.test")
    log.info("minted token %s for installation %d", TOKEN, 7)
    log.warning("headers", extra={"headers": {"Authorization": f"token {TOKEN}", "Accept": "x"}})
    header, claims = (base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in JWT_PARTS)
    log.info("auth: Bearer %s", f"{header}.{claims}.c2lnbmF0dXJlLXZhbHVl")
    log.info("clone https://x-access-token:%s@github.com/o/r.git", TOKEN)
    log.error("pat %s and secret %s", PAT, SECRET, extra={"token": TOKEN})
    log.info("key material:\n%s", rsa_pem())
    try:
        raise RuntimeError(f"request failed with {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    output = stream.getvalue()
    for secret in (TOKEN, PAT, SECRET, "eyJhbGciOiJSUzI1NiJ9", rsa_pem().splitlines()[1]):
        assert secret not in output
    entries = _lines(stream)
    assert entries[1]["headers"] == {"Authorization": MASK, "Accept": "x"}
    assert entries[4]["token"] == MASK
    assert "installation 7" in str(entries[0]["msg"])
    assert "RuntimeError" in str(entries[-1]["exc"])


def test_one_line_of_a_configured_key_is_masked_alone(stream: io.StringIO) -> None:
    line = rsa_pem().splitlines()[5]
    assert mask(f"fragment {line}") == f"fragment {MASK}"  # no detector knows it by shape
    logging.getLogger("app.test").info("fragment %s", line)
    assert line not in stream.getvalue()


def test_text_format_for_terminals() -> None:
    out = io.StringIO()
    handler = setup_logging("INFO", stream=out, json_lines=False)
    try:
        logging.getLogger("app.t").info("started %s", TOKEN, extra={"port": 8000})
    finally:
        logging.getLogger().removeHandler(handler)
    text = out.getvalue()
    assert "INFO" in text and "app.t: started" in text and "port=8000" in text
    assert TOKEN not in text


def test_mask_leaves_ordinary_text() -> None:
    assert mask("delivery 72d3162e accepted for octo/demo#5") == (
        "delivery 72d3162e accepted for octo/demo#5"
    )
    for prose in ("installation token refreshed", "Bearer authentication failed",
                  "token expiration reached", "a token minted for installation 7"):  # fmt: skip
        assert mask(prose) == prose
    assert mask("token abc123def456") == "token [REDACTED]"  # short, but has digits
    assert mask("Bearer " + "q" * 24) == "Bearer [REDACTED]"  # long enough without any


def test_a_secret_registered_later_is_masked_in_text_seen_before() -> None:
    from selfheal.runtime.logs import add_secret_values

    value = "late-registered-" + "q7" * 8
    text = f"cache {value}"
    assert mask(text) == text  # not yet a known secret: remembered as harmless
    add_secret_values([value])
    assert value not in mask(text)
