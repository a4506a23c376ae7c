"""A labelled secret corpus, generated: tokens built from providers' documented formats.

Every value is made here at run time from a seeded generator (``random.Random``), so the
repository holds no token-shaped literal and no other project's test strings. Each case is
one small file with one line of interest:

* a **true** case holds a credential in a provider's documented shape (prefix, length,
  alphabet; GitHub's classic tokens carry their CRC32 check digits) inside a realistic line:
  a Python or JavaScript assignment, a ``.env`` entry, YAML or JSON;
* a **false** case holds something that looks like one but is not a secret: placeholders,
  values ending in the vendors' documented ``EXAMPLE`` marker, environment reads, template
  variables, content hashes, git object ids, UUIDs, publishable (public) keys, file paths.

``bench/secret_detection.py`` scores detectors on it; ``tests/unit/test_secret_engine.py`` uses a few
cases as known answers.
"""

# The format table reads best as one provider per line, however long the line.
# ruff: noqa: E501

from __future__ import annotations

import base64
import random
import string
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64URL = ALNUM + "-_"
BASE32 = string.ascii_uppercase + "234567"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


@dataclass(frozen=True)
class Case:
    name: str  # file name inside the corpus folder
    provider: str
    secret: bool  # the label
    line: int  # the line of interest (1-based)
    text: str


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append((string.digits + string.ascii_uppercase + string.ascii_lowercase)[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def _github(rng: random.Random, prefix: str) -> str:
    """GitHub's classic token shape: prefix, 30 random characters, 6 base62 CRC32 digits."""
    body = _r(rng, ALNUM, 30)
    return f"{prefix}{body}{_base62(zlib.crc32(body.encode()), 6)}"


def _pem(rng: random.Random) -> str:
    body = base64.b64encode(rng.randbytes(900)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *lines, "-----END RSA PRIVATE KEY-----"])


def _jwt(rng: random.Random) -> str:
    def seg(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = seg(b'{"alg":"HS256","typ":"JWT"}')
    payload = seg(f'{{"sub":"{rng.randrange(10**8)}","role":"admin"}}'.encode())
    return f"{header}.{payload}.{seg(rng.randbytes(32))}"


Maker = Callable[[random.Random], str]

# provider -> (variable name, generator), from the providers' published token descriptions.
# fmt: off
FORMATS: dict[str, tuple[str, Maker]] = {
    "github-classic": ("GITHUB_TOKEN", lambda g: _github(g, "ghp_")),
    "github-oauth": ("GH_OAUTH_TOKEN", lambda g: _github(g, "gho_")),
    "github-app": ("GH_INSTALLATION_TOKEN", lambda g: _github(g, "ghs_")),
    "github-fine-grained": ("GH_PAT", lambda g: f"github_pat_{_r(g, ALNUM, 22)}_{_r(g, ALNUM, 59)}"),
    "gitlab": ("GITLAB_TOKEN", lambda g: f"glpat-{_r(g, B64URL, 20)}"),
    "slack-bot": ("SLACK_BOT_TOKEN", lambda g: f"xoxb-{_r(g, string.digits, 12)}-{_r(g, string.digits, 13)}-{_r(g, ALNUM, 24)}"),
    "slack-webhook": ("SLACK_WEBHOOK", lambda g: f"https://hooks.slack.com/services/T{_r(g, UPPER_ALNUM, 8)}/B{_r(g, UPPER_ALNUM, 10)}/{_r(g, ALNUM, 24)}"),
    "stripe-live": ("STRIPE_SECRET_KEY", lambda g: f"sk_live_{_r(g, ALNUM, 99)}"),
    "stripe-restricted": ("STRIPE_RESTRICTED_KEY", lambda g: f"rk_live_{_r(g, ALNUM, 99)}"),
    "aws-access-key-id": ("AWS_ACCESS_KEY_ID", lambda g: f"AKIA{_r(g, BASE32, 16)}"),
    "google-api-key": ("GOOGLE_API_KEY", lambda g: f"AIza{_r(g, B64URL, 35)}"),
    "openai-project": ("OPENAI_API_KEY", lambda g: f"sk-proj-{_r(g, B64URL, 74)}T3BlbkFJ{_r(g, B64URL, 74)}"),
    "anthropic": ("ANTHROPIC_API_KEY", lambda g: f"sk-ant-api03-{_r(g, B64URL, 93)}AA"),
    "sendgrid": ("SENDGRID_API_KEY", lambda g: f"SG.{_r(g, B64URL, 22)}.{_r(g, B64URL, 43)}"),
    "twilio-api-key": ("TWILIO_API_KEY", lambda g: f"SK{_r(g, HEX, 32)}"),
    "mailgun": ("MAILGUN_API_KEY", lambda g: f"key-{_r(g, HEX, 32)}"),
    "npm": ("NPM_TOKEN", lambda g: f"npm_{_r(g, ALNUM, 36)}"),
    "pypi": ("PYPI_TOKEN", lambda g: f"pypi-AgEIcHlwaS5vcmc{_r(g, B64URL, 150)}"),
    "huggingface": ("HF_TOKEN", lambda g: f"hf_{_r(g, string.ascii_letters, 34)}"),
    "digitalocean": ("DIGITALOCEAN_TOKEN", lambda g: f"dop_v1_{_r(g, HEX, 64)}"),
    "shopify": ("SHOPIFY_ACCESS_TOKEN", lambda g: f"shpat_{_r(g, HEX, 32)}"),
    "square": ("SQUARE_ACCESS_TOKEN", lambda g: f"EAAA{_r(g, B64URL, 60)}"),
    "telegram-bot": ("TELEGRAM_BOT_TOKEN", lambda g: f"{g.randrange(10**8, 10**10)}:AA{_r(g, B64URL, 33)}"),
    "mailchimp": ("MAILCHIMP_API_KEY", lambda g: f"{_r(g, HEX, 32)}-us{g.randrange(1, 21)}"),
    "databricks": ("DATABRICKS_TOKEN", lambda g: f"dapi{_r(g, HEX, 32)}"),
    "postman": ("POSTMAN_API_KEY", lambda g: f"PMAK-{_r(g, HEX, 24)}-{_r(g, HEX, 34)}"),
    "linear": ("LINEAR_API_KEY", lambda g: f"lin_api_{_r(g, ALNUM, 40)}"),
    "grafana-service-account": ("GRAFANA_TOKEN", lambda g: f"glsa_{_r(g, ALNUM, 32)}_{_r(g, HEX, 8)}"),
    "vault": ("VAULT_TOKEN", lambda g: f"hvs.{_r(g, B64URL, 90)}"),
    "pulumi": ("PULUMI_ACCESS_TOKEN", lambda g: f"pul-{_r(g, HEX, 40)}"),
    "doppler": ("DOPPLER_TOKEN", lambda g: f"dp.pt.{_r(g, ALNUM, 43)}"),
    "new-relic": ("NEW_RELIC_API_KEY", lambda g: f"NRAK-{_r(g, UPPER_ALNUM, 27)}"),
    "age": ("AGE_KEY", lambda g: f"AGE-SECRET-KEY-1{_r(g, BECH32, 58)}"),
    "dynatrace": ("DT_API_TOKEN", lambda g: f"dt0c01.{_r(g, UPPER_ALNUM, 24)}.{_r(g, UPPER_ALNUM, 64)}"),
    "figma": ("FIGMA_TOKEN", lambda g: f"figd_{_r(g, B64URL, 40)}"),
    "sentry-user": ("SENTRY_AUTH_TOKEN", lambda g: f"sntryu_{_r(g, HEX, 64)}"),
    "supabase": ("SUPABASE_ACCESS_TOKEN", lambda g: f"sbp_{_r(g, HEX, 40)}"),
    "planetscale": ("PLANETSCALE_TOKEN", lambda g: f"pscale_tkn_{_r(g, B64URL, 43)}"),
    "alibaba": ("ALIBABA_ACCESS_KEY_ID", lambda g: f"LTAI{_r(g, ALNUM, 20)}"),
    "shippo": ("SHIPPO_API_KEY", lambda g: f"shippo_live_{_r(g, HEX, 40)}"),
    "adafruit": ("ADAFRUIT_IO_KEY", lambda g: f"aio_{_r(g, ALNUM, 28)}"),
    "rubygems": ("GEM_HOST_API_KEY", lambda g: f"rubygems_{_r(g, HEX, 48)}"),
    "prefect": ("PREFECT_API_KEY", lambda g: f"pnu_{_r(g, ALNUM, 36)}"),
    "readme": ("README_API_KEY", lambda g: f"rdme_{_r(g, ALNUM, 70)}"),
    "brevo": ("BREVO_API_KEY", lambda g: f"xkeysib-{_r(g, HEX, 64)}-{_r(g, ALNUM, 16)}"),
    "duffel": ("DUFFEL_TOKEN", lambda g: f"duffel_live_{_r(g, B64URL, 43)}"),
    "easypost": ("EASYPOST_API_KEY", lambda g: f"EZAK{_r(g, ALNUM, 54)}"),
    "flutterwave": ("FLW_SECRET_KEY", lambda g: f"FLWSECK-{_r(g, HEX, 32)}-X"),
    "jwt": ("SESSION_JWT", _jwt),
    "postgres-url": ("DATABASE_URL", lambda g: f"postgresql://app:{_r(g, ALNUM, 20)}@db.internal:5432/app"),
    "azure-storage": ("AZURE_STORAGE_CONNECTION_STRING", lambda g: f"DefaultEndpointsProtocol=https;AccountName=store{g.randrange(999)};AccountKey={base64.b64encode(g.randbytes(64)).decode()};EndpointSuffix=core.windows.net"),
    "generic-password": ("DB_PASSWORD", lambda g: _r(g, ALNUM + "!#%", 18)),
    "datadog": ("DD_API_KEY", lambda g: _r(g, HEX, 32)),
    "cloudflare": ("CLOUDFLARE_API_TOKEN", lambda g: _r(g, B64URL, 40)),
}
# fmt: on

CONTEXTS = ("py", "env", "yaml", "json", "js")
# The first case of every format sits where no name tells what it is: only the format can.
NEUTRAL = "call"


def _render(context: str, name: str, value: str) -> tuple[str, str, int]:
    """(file name suffix, text, line of interest) for ``name = value`` in ``context``."""
    if context == NEUTRAL:
        return ".py", f"from client import connect\n\nconn = connect('{value}')\n", 3
    if context == "py":
        return ".py", f'"""Settings."""\nimport os\n\n{name} = "{value}"\n', 4
    if context == "env":
        return ".env", f"# local settings\nDEBUG=0\n{name}={value}\n", 3
    if context == "yaml":
        return ".yaml", f"service:\n  region: eu-west-1\n  {name.lower()}: '{value}'\n", 3
    if context == "json":
        return ".json", f'{{\n  "region": "eu-west-1",\n  "{name.lower()}": "{value}"\n}}\n', 3
    camel = name.title().replace("_", "")
    return ".js", f"// client setup\nconst {camel[0].lower()}{camel[1:]} = '{value}';\n", 2


def _private_key_case(rng: random.Random, index: int) -> Case:
    text = f'"""Deploy key."""\nKEY = """{_pem(rng)}\n"""\n'
    return Case(f"true-private-key-{index}.py", "private-key", True, 2, text)


def _false_values(rng: random.Random) -> Iterator[tuple[str, str, str]]:
    """(kind, name, value) of things that look like secrets and are not."""
    prefixes = {"github-classic": "ghp_", "stripe-live": "sk_live_", "gitlab": "glpat-",
                "npm": "npm_", "slack-bot": "xoxb-"}  # fmt: skip
    for provider, prefix in prefixes.items():
        name, make = FORMATS[provider]
        real = make(rng)
        cut = len(prefix)
        yield "placeholder-x", name, real[:cut] + "x" * (len(real) - cut)
        yield "placeholder-angle", name, f"<your-{provider}-token>"
        yield "template", name, "${" + name + "}"
        yield "redacted", name, real[:cut] + "*" * 12
    yield "aws-documented-example", "AWS_ACCESS_KEY_ID", f"AKIA{_r(rng, BASE32, 9)}EXAMPLE"
    yield "stripe-example", "STRIPE_SECRET_KEY", f"sk_live_EXAMPLE{_r(rng, ALNUM, 20)}"
    yield "google-your-key", "GOOGLE_API_KEY", "AIzaYourGoogleApiKeyGoesHere1234567890"
    for _ in range(6):
        yield "sha256", "CHECKSUM", rng.randbytes(32).hex()
        yield "sha1-commit", "COMMIT", rng.randbytes(20).hex()
        yield "md5", "ETAG", rng.randbytes(16).hex()
        yield "uuid", "REQUEST_ID", str(_uuid(rng))
        yield "integrity", "INTEGRITY", "sha512-" + base64.b64encode(rng.randbytes(64)).decode()
    for _ in range(4):
        yield "stripe-publishable", "STRIPE_PUBLISHABLE_KEY", f"pk_live_{_r(rng, ALNUM, 99)}"
        yield "path", "CERT_PATH", f"/etc/ssl/{_r(rng, string.ascii_lowercase, 8)}/server.pem"
        yield "url", "API_URL", f"https://api.{_r(rng, string.ascii_lowercase, 6)}.com/v2/items"
        yield "version", "APP_VERSION", f"{rng.randrange(9)}.{rng.randrange(30)}.{rng.randrange(9)}"
        yield "env-read", "SECRET_KEY", "os.environ['SECRET_KEY']"
        yield "identifier", "TOKEN_HEADER", "X-Request-Authorization-Token"
        yield "password-field", "PASSWORD_FIELD", "password_confirmation"
        yield "uuid-id", "TENANT_ID", str(_uuid(rng))


def _uuid(rng: random.Random) -> str:
    raw = rng.randbytes(16).hex()
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:32]}"


def generate(seed: int = 20261202, per_format: int = 3) -> list[Case]:
    """The corpus: ``per_format`` true cases per provider format (the first where no name
    says what it is, the others in other contexts), two private keys, and the false cases."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for provider, (name, make) in FORMATS.items():
        for i in range(per_format):
            context = NEUTRAL if i == 0 else CONTEXTS[(i + len(provider)) % len(CONTEXTS)]
            suffix, text, line = _render(context, name, make(rng))
            cases.append(Case(f"true-{provider}-{i}{suffix}", provider, True, line, text))
    cases += [_private_key_case(rng, i) for i in range(2)]
    for i, (kind, name, value) in enumerate(_false_values(rng)):
        context = CONTEXTS[i % len(CONTEXTS)]
        suffix, text, line = _render(context, name, value)
        cases.append(Case(f"false-{kind}-{i}{suffix}", kind, False, line, text))
    return cases


def write(cases: list[Case], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        (folder / case.name).write_text(case.text, encoding="utf-8")
