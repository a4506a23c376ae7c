"""Secret detection: every provider format, generic assignments, placeholders, suppression,
line restriction, redaction and masking.

No literal token lives in this file: every fake secret is built at runtime from a seeded
pseudo-random generator, so our own scan (and GitHub push protection) finds nothing here.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import string
from collections.abc import Callable
from uuid import UUID

import pytest

from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.scanner.secret_filters import is_known_example, looks_random, shannon_entropy
from selfheal.scanner.secrets import SNIPPET_MAX, mask_secrets, scan_secrets, secret_hash

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
DIGITS = string.digits
ALLOW = "selfheal: " + "allow-secret"  # split so this file's own lines are not all allowed


def rand(n: int, alphabet: str = ALNUM, seed: int = 0) -> str:
    rng = random.Random(f"{seed}:{n}:{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url_json(data: object) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt(payload: dict[str, object], seed: int = 0) -> str:
    header = b64url_json({"alg": "HS256", "typ": "JWT"})
    return f"{header}.{b64url_json(payload)}.{rand(43, URLSAFE, seed)}"


def pem(label: str, seed: int = 0) -> str:
    body = base64.b64encode(random.Random(seed).randbytes(300)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


# name -> (builder of the secret, how it appears in a line, path, rule id, kind, severity)
Builder = Callable[[], str]
PROVIDERS: dict[str, tuple[Builder, str, str, str, str, Severity]] = {
    "anthropic": (
        lambda: "sk-ant-api03-" + rand(93, URLSAFE) + "AA",
        'ANTHROPIC = "{s}"',
        "a.py",
        "secret-anthropic-api-key",
        "anthropic-api-key",
        Severity.CRITICAL,
    ),
    "anthropic-admin": (
        lambda: "sk-ant-admin01-" + rand(93, URLSAFE) + "AA",
        "client = Anthropic(api_key='{s}')",
        "a.py",
        "secret-anthropic-admin-key",
        "anthropic-admin-key",
        Severity.CRITICAL,
    ),
    "openai-project": (
        lambda: "sk-proj-" + rand(74, URLSAFE) + "T3BlbkFJ" + rand(74, URLSAFE, 1),
        "const k = `{s}`;",
        "a.js",
        "secret-openai-api-key",
        "openai-project-key",
        Severity.CRITICAL,
    ),
    "openai-svcacct": (
        lambda: "sk-svcacct-" + rand(58, URLSAFE) + "T3BlbkFJ" + rand(58, URLSAFE, 1),
        "OPENAI_API_KEY={s}",
        ".env",
        "secret-openai-api-key",
        "openai-service-account-key",
        Severity.CRITICAL,
    ),
    "openai-admin": (
        lambda: "sk-admin-" + rand(58, URLSAFE) + "T3BlbkFJ" + rand(58, URLSAFE, 1),
        "key: {s}",
        "c.yml",
        "secret-openai-admin-key",
        "openai-admin-key",
        Severity.CRITICAL,
    ),
    "openai-legacy": (
        lambda: "sk-" + rand(20) + "T3BlbkFJ" + rand(20, seed=1),
        'openai.api_key = "{s}"',
        "a.py",
        "secret-openai-api-key",
        "openai-legacy-key",
        Severity.CRITICAL,
    ),
    **{
        f"github-{prefix}": (
            functools.partial(lambda p: p + "_" + rand(36), prefix),
            'headers = {{"Authorization": "token {s}"}}',
            "a.py",
            "secret-github-token",
            "github-token",
            Severity.CRITICAL,
        )
        for prefix in ("ghp", "gho", "ghu", "ghs", "ghr")
    },
    "github-fine-grained": (
        lambda: "github_pat_" + rand(22, seed=3) + "_" + rand(59, seed=4),
        "GH={s}",
        "deploy.sh",
        "secret-github-token",
        "github-fine-grained-pat",
        Severity.CRITICAL,
    ),
    "slack-bot": (
        lambda: f"xoxb-{rand(11, DIGITS)}-{rand(13, DIGITS)}-{rand(24)}",
        'SLACK = "{s}"',
        "a.py",
        "secret-slack-token",
        "slack-bot-token",
        Severity.CRITICAL,
    ),
    "slack-user": (
        lambda: f"xoxp-{rand(11, DIGITS)}-{rand(12, DIGITS)}-{rand(13, DIGITS)}-{rand(32, HEX)}",
        'SLACK = "{s}"',
        "a.py",
        "secret-slack-token",
        "slack-user-token",
        Severity.CRITICAL,
    ),
    "slack-app": (
        lambda: f"xapp-1-A{rand(10, UPPER_DIGITS)}-{rand(13, DIGITS)}-{rand(64, HEX)}",
        'SLACK = "{s}"',
        "a.py",
        "secret-slack-token",
        "slack-app-token",
        Severity.CRITICAL,
    ),
    **{
        f"slack-legacy-{kind}": (
            functools.partial(
                lambda k: f"xox{k}-{rand(10, DIGITS)}-{rand(11, DIGITS)}-{rand(32, HEX)}", kind
            ),
            'SLACK = "{s}"',
            "a.py",
            "secret-slack-token",
            "slack-legacy-token",
            Severity.CRITICAL,
        )
        for kind in ("a", "r", "s")
    },
    "slack-webhook": (
        lambda: (
            "https://hooks.slack.com/services/T"
            + rand(8, UPPER_DIGITS)
            + "/B"
            + rand(10, UPPER_DIGITS)
            + "/"
            + rand(24)
        ),
        'requests.post("{s}", json=msg)',
        "a.py",
        "secret-slack-webhook",
        "slack-webhook",
        Severity.CRITICAL,
    ),
    **{
        f"aws-id-{prefix}": (
            functools.partial(lambda p: p + rand(16, UPPER_DIGITS), prefix),
            "aws_access_key_id = {s}",
            "credentials.ini",
            "secret-aws-access-key-id",
            "aws-access-key-id",
            Severity.CRITICAL,
        )
        for prefix in ("AKIA", "ASIA")
    },
    "aws-secret": (
        lambda: rand(38, ALNUM + "/+") + "Zq",
        'aws_secret_access_key = "{s}"',
        "a.py",
        "secret-aws-secret-access-key",
        "aws-secret-access-key",
        Severity.CRITICAL,
    ),
    "google": (
        lambda: "AIza" + rand(35, URLSAFE),
        '<meta name="k" content="{s}">',
        "index.html",
        "secret-google-api-key",
        "google-api-key",
        Severity.CRITICAL,
    ),
    "stripe-live": (
        lambda: "sk_live_" + rand(24),
        "stripe.api_key = '{s}'",
        "a.py",
        "secret-stripe-live-key",
        "stripe-live-key",
        Severity.CRITICAL,
    ),
    "stripe-restricted": (
        lambda: "rk_live_" + rand(24),
        "STRIPE={s}",
        ".env.production",
        "secret-stripe-live-key",
        "stripe-live-key",
        Severity.CRITICAL,
    ),
    "stripe-test": (
        lambda: "sk_test_" + rand(24),
        "stripe.api_key = '{s}'",
        "a.py",
        "secret-stripe-test-key",
        "stripe-test-key",
        Severity.MEDIUM,
    ),
    "gitlab": (
        lambda: "glpat-" + rand(20, URLSAFE, 70),
        'GITLAB_TOKEN = "{s}"',
        "a.py",
        "secret-gitlab-token",
        "gitlab-pat",
        Severity.CRITICAL,
    ),
    "npm": (
        lambda: "npm_" + rand(36, ALNUM, 71),
        "//registry.npmjs.org/:_authToken={s}",
        ".npmrc",
        "secret-npm-token",
        "npm-token",
        Severity.CRITICAL,
    ),
    "pypi": (
        lambda: "pypi-AgEIcHlwaS5vcmc" + rand(150, URLSAFE, 72),
        "password = {s}",
        ".pypirc",
        "secret-pypi-token",
        "pypi-token",
        Severity.CRITICAL,
    ),
    "huggingface": (
        lambda: "hf_" + rand(34, string.ascii_letters, 73),
        "HF_TOKEN={s}",
        ".env",
        "secret-huggingface-token",
        "huggingface-token",
        Severity.CRITICAL,
    ),
    "sendgrid": (
        lambda: "SG." + rand(22, URLSAFE, 74) + "." + rand(43, URLSAFE, 75),
        "sg = SendGridAPIClient('{s}')",
        "mail.py",
        "secret-sendgrid-key",
        "sendgrid-key",
        Severity.CRITICAL,
    ),
    "digitalocean": (
        lambda: "dop_v1_" + rand(64, HEX, 76),
        'do_token: "{s}"',
        "infra.yml",
        "secret-digitalocean-token",
        "digitalocean-token",
        Severity.CRITICAL,
    ),
    "shopify": (
        lambda: "shpat_" + rand(32, HEX, 77),
        "const shop = '{s}';",
        "shop.js",
        "secret-shopify-token",
        "shopify-token",
        Severity.CRITICAL,
    ),
    "jwt": (
        lambda: jwt({"sub": "svc-billing", "iat": 1700000000, "scope": "admin"}),
        "Authorization: Bearer {s}",
        "notes.txt",
        "secret-jwt",
        "jwt",
        Severity.HIGH,
    ),
    **{
        f"conn-{scheme}": (
            (lambda: rand(14, ALNUM, 7)),
            f'DSN = "{scheme}://app_user:{{s}}@db.internal:5432/app"',
            "settings.py",
            "secret-connection-string",
            "connection-string",
            Severity.CRITICAL,
        )
        for scheme in (
            "postgres",
            "postgresql+psycopg2",
            "mysql",
            "mongodb",
            "mongodb+srv",
            "amqp",
            "mssql",
        )
    },
    "conn-redis-no-user": (
        lambda: rand(20, ALNUM, 8),
        "REDIS_URL=redis://:{s}@cache:6379/0",
        ".env",
        "secret-connection-string",
        "connection-string",
        Severity.CRITICAL,
    ),
    "password-python": (
        lambda: "Tr0ub4dor&3x",
        'password = "{s}"',
        "app/db.py",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "password-kwarg": (
        lambda: "Sup3r-S3cure!",
        'conn = connect(host="db", password="{s}")',
        "app/db.py",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "password-annotated": (
        lambda: "pa55w0rd-prod",
        'db_password: str = "{s}"',
        "app/db.py",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "password-js": (
        lambda: "n0t-so-s3cret!",
        "const dbPassword = '{s}';",
        "src/db.ts",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "password-yaml": (
        lambda: "hunter2hunter",
        "  password: {s}  # prod",
        "config/app.yaml",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "password-env": (
        lambda: "Qz8!mW2#pL",
        "export DB_PASSWD={s}",
        ".env",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "password-json": (
        lambda: "j50n-Pa55",
        '  "password": "{s}",',
        "config.json",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "password-ini": (
        lambda: "ini-Pa55w0rd",
        "pwd = {s}",
        "setup.cfg",
        "secret-generic-password",
        "password",
        Severity.HIGH,
    ),
    "entropy-api-key": (
        lambda: rand(32, ALNUM, 11),
        'API_KEY = "{s}"',
        "a.py",
        "secret-generic-high-entropy",
        "high-entropy",
        Severity.HIGH,
    ),
    "entropy-hex-secret": (
        lambda: rand(40, HEX, 12),
        "  clientSecret: '{s}',",
        "config.js",
        "secret-generic-high-entropy",
        "high-entropy",
        Severity.HIGH,
    ),
    "entropy-auth-header": (
        lambda: rand(40, URLSAFE, 13),
        'headers["Authorization"] = "Bearer {s}"',
        "a.py",
        "secret-generic-high-entropy",
        "high-entropy",
        Severity.HIGH,
    ),
    "entropy-yaml-token": (
        lambda: rand(28, ALNUM, 14),
        "deploy_token: {s}",
        "ci.yml",
        "secret-generic-high-entropy",
        "high-entropy",
        Severity.HIGH,
    ),
}

KEY_LABELS = (
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "PGP PRIVATE KEY BLOCK",
)

# (path, text) pairs that must produce no finding at all.
PLACEHOLDERS: list[tuple[str, str]] = [
    ("a.py", 'password = "${DB_PASSWORD}"'),
    ("a.py", 'password = "$DB_PASSWORD"'),
    ("c.yml", 'password: "{{ vault_db_password }}"'),
    ("c.yml", "password: ${{ secrets.DB_PASSWORD }}"),
    ("a.py", 'api_key = "<your-key>"'),
    ("a.py", 'api_key = "your_api_key_here"'),
    ("a.py", 'API_TOKEN = "xxxxxxxxxxxxxxxxxxxxxxxx"'),
    ("a.py", 'token = "XXXX-XXXX-XXXX-XXXX"'),
    ("a.py", 'password = "****"'),
    ("a.py", 'password = "********"'),
    ("a.py", 'password = "changeme"'),
    ("a.py", 'password = "example-password"'),
    ("a.py", 'password = "dummy"'),
    ("a.py", 'password = "test-password-1"'),
    ("a.py", 'password = "MockPassword1"'),
    ("a.py", 'password = "password"'),
    ("a.py", 'password = os.environ["DB_PASSWORD"]'),
    ("a.py", 'password = os.getenv("DB_PASSWORD")'),
    ("a.py", "password = get_password()"),
    ("a.py", "password: str"),
    ("a.py", "self.password = password"),
    ("a.js", "const token = process.env.GITHUB_TOKEN;"),
    (".env", "PASSWORD="),
    (".env", "API_TOKEN=${API_TOKEN}"),
    ("c.ini", "password = %(db_password)s"),
    ("a.py", 'url = f"postgres://{user}:{password}@{host}/db"'),
    ("a.py", 'url = "postgres://user:password@localhost/db"'),
    ("a.py", 'url = "postgres://user:${DB_PASSWORD}@localhost/db"'),
    ("a.py", 'url = "https://example.com:8443/path?x=1"'),
    # Documentation URLs: a percent-encoded phrase as the password.
    ("a.py", 'url = "https://jo%40mail.org:a%20secret@host.de:1234/p"'),
    ("a.py", 'url = "https://jo%40mail.org:a%20secret@www.example.com/"'),
    ("a.py", 'token_url = "https://auth.example.com/oauth/token"'),
    ("a.py", 'password_field = "login_form_password_input"'),
    ("a.py", 'api_key = "my_secret_api_key_value"'),
    ("a.py", 'secret = "short"'),
    ("c.yml", "max_tokens: 4096"),
    ("a.py", 'author = "Jane Q. Public"'),
    ("a.py", 'print("Enter your password: ")'),
    ("a.py", "GITHUB_TOKEN = 'ghp_" + "x" * 36 + "'"),
    ("a.py", "STRIPE = 'sk_live_" + "X" * 24 + "'"),
    ("a.py", "ANTHROPIC_API_KEY = 'sk-ant-api03-" + "." * 95 + "'"),
    ("docs.md", "Use `ghp_` followed by 36 characters, e.g. `ghp_<your-token>`."),
    # AWS's documented example credentials.
    ("creds.ini", "aws_access_key_id = AKIA" + "IOSFODNN7" + "EXAMPLE"),
    ("creds.ini", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"),
    # The RFC 7519 / jwt.io example token.
    ("a.md", jwt({"sub": "1234567890", "name": "John Doe", "iat": 1516239022})),
    # Three base64url segments whose header is not JSON: not a JWT.
    ("a.py", "v = 'eyJ" + rand(20, ALNUM, 3) + "." + rand(20, ALNUM, 4) + "." + rand(20) + "'"),
    ("a.md", "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----"),
    ("a.py", 'MARKER = "-----BEGIN PRIVATE KEY-----"'),
]


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.to_dict() for f in findings]
    return findings[0]


def assert_redacted(finding: Finding, secret: str) -> None:
    dumped = json.dumps(finding.to_dict())
    assert secret not in dumped
    assert secret[-8:] not in dumped  # not even the tail of it
    assert secret not in finding.snippet and secret not in finding.message
    assert finding.properties["secret_hash"] == secret_hash(secret)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_each_format_is_detected_on_its_line(name: str) -> None:
    build, template, path, rule_id, kind, severity = PROVIDERS[name]
    secret = build()
    text = "# config\n\n" + template.format(s=secret) + "\nother = 1\n"
    finding = only(scan_secrets(path, text))
    assert (finding.rule_id, finding.path, finding.line) == (rule_id, path, 3)
    assert finding.properties["kind"] == kind
    assert finding.severity is severity
    assert finding.category is Category.SECRET and finding.source is Source.SECRETS
    assert finding.cwe == ("CWE-798",) and finding.owasp == ("A07:2021",)
    line = template.format(s=secret)
    assert finding.column == line.index(secret) + 1
    assert finding.end_column == finding.column + len(secret)
    assert_redacted(finding, secret)


@pytest.mark.parametrize("label", KEY_LABELS)
def test_private_key_blocks(label: str) -> None:
    block = pem(label, seed=len(label))
    text = f'"""Deploy key."""\nKEY = """\n{block}\n"""\n'
    finding = only(scan_secrets("keys.py", text))
    assert (finding.rule_id, finding.line, finding.severity) == (
        "secret-private-key",
        3,
        Severity.CRITICAL,
    )
    body = block.split("\n", 1)[1].rsplit("\n", 1)[0]
    assert_redacted(finding, body)
    assert finding.snippet.startswith(f"-----BEGIN {label}-----")
    assert finding.end_line == 3 + body.count("\n") + 1


def test_private_key_escaped_in_json_one_line() -> None:
    block = pem("PRIVATE KEY", seed=5).replace("\n", "\\n")
    text = '{\n  "type": "service_account",\n  "private_key": "' + block + '\\n"\n}\n'
    finding = only(scan_secrets("sa.json", text))
    assert (finding.rule_id, finding.line) == ("secret-private-key", 3)
    assert block.split("\\n")[3] not in json.dumps(finding.to_dict())


def test_a_file_with_many_secrets_reports_each_on_its_line() -> None:
    lines = ["import os", ""]
    expected = set()
    for name in sorted(PROVIDERS):
        build, template, _path, rule_id, *_ = PROVIDERS[name]
        if "{s}" in template and not template.startswith(("  ", "export", "pwd", "GH=")):
            lines.append(template.format(s=build()))
            expected.add((len(lines), rule_id))
    findings = scan_secrets("all.txt", "\n".join(lines) + "\n")
    assert {(f.line, f.rule_id) for f in findings} == expected


@pytest.mark.parametrize(("path", "text"), PLACEHOLDERS)
def test_placeholders_are_not_findings(path: str, text: str) -> None:
    assert scan_secrets(path, f"x = 1\n{text}\n") == []


def test_unquoted_values_count_only_in_config_files() -> None:
    line = "password = Unqu0ted-Pa55\n"
    assert scan_secrets("a.py", line) == []
    assert only(scan_secrets("app.conf", line)).rule_id == "secret-generic-password"


@pytest.mark.parametrize(
    "comment",
    [f"  # {ALLOW}", f"  // {ALLOW}", f"  /* {ALLOW} */", f"  <!-- {ALLOW} -->", f"  -- {ALLOW}"],
)
def test_inline_allow_comment_suppresses_that_line_only(comment: str) -> None:
    first, second = "ghp_" + rand(36, seed=21), "ghp_" + rand(36, seed=22)
    text = f'a = "{first}"{comment}\nb = "{second}"\n'
    finding = only(scan_secrets("a.py", text))
    assert finding.line == 2
    assert finding.properties["secret_hash"] == secret_hash(second)


def test_inline_allow_on_begin_line_suppresses_key_block() -> None:
    block = pem("RSA PRIVATE KEY", seed=9)
    first, rest = block.split("\n", 1)
    text = f"{first}  # {ALLOW}\n{rest}\n"
    assert scan_secrets("k.pem", text) == []
    assert len(scan_secrets("k.pem", block)) == 1


def test_lines_restricts_findings() -> None:
    one, two = "AKIA" + rand(16, UPPER_DIGITS, 1), "AKIA" + rand(16, UPPER_DIGITS, 2)
    text = f"a = '{one}'\n\n\nb = '{two}'\n"
    assert [f.line for f in scan_secrets("a.py", text)] == [1, 4]
    assert [f.line for f in scan_secrets("a.py", text, lines={4})] == [4]
    assert [f.line for f in scan_secrets("a.py", text, lines=[1, 2])] == [1]
    assert scan_secrets("a.py", text, lines={2, 3}) == []
    assert scan_secrets("a.py", text, lines=()) == []


def test_lines_inside_a_key_block_report_the_changed_line() -> None:
    text = "x = 1\n" + pem("EC PRIVATE KEY", seed=4) + "\n"
    assert only(scan_secrets("k.pem", text, lines={2})).line == 2
    assert only(scan_secrets("k.pem", text, lines={5})).line == 5
    assert scan_secrets("k.pem", text, lines={1}) == []


def test_fingerprint_is_stable_across_line_moves_and_differs_per_secret() -> None:
    secret = "xoxb-" + rand(11, DIGITS) + "-" + rand(12, DIGITS) + "-" + rand(24)
    a = only(scan_secrets("a.py", f"t = '{secret}'\n"))
    b = only(scan_secrets("a.py", f"\n\n\n  t = '{secret}'\n"))
    c = only(scan_secrets("a.py", f"t = '{secret[:-1]}Q'\n"))
    assert a.line != b.line and a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


def test_specific_format_wins_over_generic_assignment() -> None:
    secret = "ghp_" + rand(36, seed=5)
    finding = only(scan_secrets("a.py", f'github_token = "{secret}"\n'))
    assert finding.rule_id == "secret-github-token"


def test_several_secrets_on_one_line_are_all_redacted_in_each_snippet() -> None:
    one, two = "ghp_" + rand(36, seed=6), "AIza" + rand(35, URLSAFE, 7)
    findings = scan_secrets("a.py", f"x = ['{one}', '{two}']\n")
    assert sorted(f.rule_id for f in findings) == ["secret-github-token", "secret-google-api-key"]
    for finding in findings:
        assert one[-10:] not in finding.snippet and two[-10:] not in finding.snippet


def test_very_long_line_keeps_snippet_short() -> None:
    secret = "sk_live_" + rand(30, seed=8)
    filler = "var a=1;" * 6000
    text = "/* min */\n" + filler + f'var k="{secret}";' + filler + "\n"
    finding = only(scan_secrets("bundle.min.js", text))
    assert (finding.line, finding.column) == (2, len(filler) + 8)
    assert len(finding.snippet) <= SNIPPET_MAX + 2
    assert "sk_l" in finding.snippet and secret not in finding.snippet


def test_binary_ish_text_does_not_crash_and_still_finds() -> None:
    noise = random.Random(3).randbytes(5000).decode("latin-1")
    secret = "ghs_" + rand(36, seed=10)
    text = noise + "\x00\n" + secret + "\x00\xff\n" + noise
    findings = [f for f in scan_secrets("blob.bin", text) if f.rule_id == "secret-github-token"]
    assert len(findings) == 1 and findings[0].properties["secret_hash"] == secret_hash(secret)


def test_hostile_inputs_finish() -> None:
    """Bounded quantifiers: long runs of near-matches stay linear (pytest-timeout guards)."""
    texts = [
        "password=" + "a" * 200_000,
        "password:" * 10_000,  # every value would overlap the next name
        "".join(f"password:{i}" for i in range(10_000)),
        ('password="' + "Abc123!xyz" + '"\n') * 5_000,  # many findings: linear snippets
        "ghp_" + "A" * 200_000,
        "key " * 50_000,
        "postgres://" + "u" * 100_000 + ":" + "p" * 100_000,
        "eyJ" + "a" * 100_000 + "." + "b" * 100_000,
        "-----BEGIN PRIVATE KEY-----" + "A" * 100_000,
    ]
    for text in texts:
        for finding in scan_secrets("x.env", text):
            assert len(finding.snippet) <= SNIPPET_MAX + 2


def test_empty_text() -> None:
    assert scan_secrets("a.py", "") == []
    assert mask_secrets("") == ""


def test_mask_secrets_redacts_every_secret() -> None:
    secrets = [PROVIDERS[n][0]() for n in ("anthropic", "github-fine-grained", "slack-bot")]
    plain = "Tr0ub4dor&3x-log"
    log = (
        f"calling api with key={secrets[0]} and {secrets[1]}\n"
        f"slack={secrets[2]} db_password={plain} retry=3\n"
        f"dsn=postgres://svc:{plain}@db/app\n"
    )
    masked = mask_secrets(log)
    for secret in [*secrets, plain]:
        assert secret not in masked
    assert "retry=3" in masked and masked.count("\n") == 3


def test_mask_secrets_masks_suppressed_and_leaves_clean_text_alone() -> None:
    secret = "ghp_" + rand(36, seed=12)
    assert secret not in mask_secrets(f"t = '{secret}'  # {ALLOW}")
    clean = "nothing to see: password = ${DB_PASSWORD}, token_url=https://x/y\n"
    assert mask_secrets(clean) == clean


def test_mask_secrets_masks_key_blocks() -> None:
    block = pem("OPENSSH PRIVATE KEY", seed=2)
    masked = mask_secrets(f"key:\n{block}\n")
    assert "-----BEGIN OPENSSH PRIVATE KEY-----" in masked
    assert block.splitlines()[2] not in masked


def test_entropy_values() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaaaaaa") == 0.0
    assert shannon_entropy("abab") == pytest.approx(1.0)
    assert shannon_entropy(HEX) == pytest.approx(4.0)
    assert shannon_entropy(string.ascii_letters + string.digits + "+/") == pytest.approx(6.0)


def test_entropy_thresholds_and_edges() -> None:
    assert looks_random(rand(16, ALNUM, 1))  # base64, at the minimum length
    assert not looks_random(rand(15, ALNUM, 1))  # one below it
    assert looks_random(rand(32, HEX, 2))
    assert looks_random(rand(20, HEX, 2))  # hex at its minimum length
    assert not looks_random(rand(16, HEX, 2))  # a 64-bit hash or id
    assert not looks_random("0123456789012345")  # hex but digits only
    assert not looks_random("aaaa1111bbbb2222")  # hex, entropy 2.0 < 3.0
    assert not looks_random("abcdefghijklmnopqrstuvwxyz")  # one character class
    assert not looks_random("my_secret_api_key_value")  # identifier-like, one class
    assert not looks_random("Aa1Aa1Aa1Aa1Aa1Aa1Aa1")  # mixed classes, entropy ~1.6
    assert not looks_random(rand(30, ALNUM + " ", 3))  # not a single charset
    assert not looks_random("ExclusiveStartKeyValue")  # CamelCase words, not random
    assert looks_random(rand(24, string.ascii_letters, 4))  # random letters still count


def test_finding_dict_round_trip_keeps_hash_and_fingerprint() -> None:
    secret = "AIza" + rand(35, URLSAFE, 30)
    finding = only(scan_secrets("a.py", f"k = '{secret}'\n"))
    again = Finding.from_dict(json.loads(json.dumps(finding.to_dict())))
    assert again.fingerprint == finding.fingerprint
    assert again.properties == finding.properties


def test_documented_examples_are_known_by_hash() -> None:
    assert is_known_example("AKIA" + "IOSFODNN7" + "EXAMPLE")
    assert is_known_example("wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY")
    assert not is_known_example("AKIA" + rand(16, UPPER_DIGITS))


@pytest.mark.parametrize(
    "line",
    [
        'FORCE_CHANGE_PASSWORD = "FORCE_CHANGE_PASSWORD"',
        'PassStateEntered = "PassStateEntered"',
        'WaitForTaskToken = "waitForTaskToken"',
        '"requireAuthorizationForCacheControl": "requireAuthorizationForCacheControl1",',
        'password_last_used = "not_supported"',
        '<assemblyIdentity publicKeyToken="' + rand(16, HEX, 40) + '"/>',
    ],
)
def test_labels_and_public_values_are_not_secrets(line: str) -> None:
    assert scan_secrets("models.py", line + "\n") == []


def test_mask_secrets_leaves_code_expressions_alone() -> None:
    for line in (
        'password = request.form["pw"]',
        "password = settings.DB_PASSWORD",
        "token = make_token(user)",
        'cur.execute("SELECT * FROM users WHERE password = %s", (pw,))',
    ):
        assert mask_secrets(line) == line


def test_crlf_lines_and_no_trailing_newline() -> None:
    secret = "ghu_" + rand(36, seed=50)
    text = f"a = 1\r\nb = '{secret}'\r\nc = 2"
    finding = only(scan_secrets("a.py", text))
    assert (finding.line, finding.snippet) == (2, "b = 'ghu_********(40 chars)'")
    assert only(scan_secrets("a.py", f"x = '{secret}'")).line == 1


def test_case_folding_that_changes_length_keeps_offsets() -> None:
    """ "İ".lower() is two characters; a naive lower() shifts every later offset."""
    filler = "s = 'İİİİ token key'\n" + "x = 'İ' # key secret token\n" * 50
    text = filler + 'pwd = "' + "Xy9-real-pw" + '"\n'
    finding = only(scan_secrets("tr.py", text))
    assert (finding.line, finding.column, finding.rule_id) == (52, 8, "secret-generic-password")


@pytest.mark.parametrize(
    "line",
    [
        '"PWD": "/Users/someone/project",',
        "  'allPass': 'overEvery',",
        "const passwordSymbols = 'qwertyuiop12345!@#';",
        'key_path = "C:\\\\certs\\\\server.key"',
    ],
)
def test_paths_and_weak_names_are_not_secrets(line: str) -> None:
    assert scan_secrets("env.js", line + "\n") == []


def test_uuids_count_only_for_secret_names() -> None:
    uuid = str(UUID(int=random.Random(5).getrandbits(128), version=4))
    assert scan_secrets("a.py", f'ClientRequestToken = "{uuid}"\n') == []
    assert only(scan_secrets("a.py", f'API_KEY = "{uuid}"\n')).line == 1
    assert only(scan_secrets("a.py", f'client_secret = "{uuid}"\n')).line == 1


@pytest.mark.parametrize(
    ("name", "rule_id"),
    [
        ("aws_secret_access_key", "secret-aws-secret-access-key"),
        ("AWS_SECRET", "secret-aws-secret-access-key"),
        ("access_key_secret", "secret-aws-secret-access-key"),
        ("aws_session_token", "secret-generic-high-entropy"),  # no "secret" in the name
        ("db_password", "secret-generic-password"),
    ],
)
def test_an_aws_secret_needs_an_aws_secret_name(name: str, rule_id: str) -> None:
    value = rand(38, ALNUM + "/+", 7) + "Zq"  # the 40-character shape of an AWS secret key
    assert only(scan_secrets("a.py", f'{name} = "{value}"\n')).rule_id == rule_id


def test_an_aws_secret_name_with_another_value_is_a_generic_secret() -> None:
    value = rand(32, ALNUM, 8)
    finding = only(scan_secrets("a.py", f'aws_secret_access_key = "{value}"\n'))
    assert finding.rule_id == "secret-generic-high-entropy"


def test_pass_alone_still_finds_a_password_with_digits() -> None:
    finding = only(scan_secrets("mail.py", 'SMTP_PASS = "' + "m4il-Rel4y" + '"\n'))
    assert finding.rule_id == "secret-generic-password"


@pytest.mark.parametrize(
    ("template", "rule_id"),
    [
        ('CONN = "Server=db;User Id=sa;Password={s};Encrypt=true"', "secret-generic-password"),
        ('cs = "Pwd={s};Server=db"', "secret-generic-password"),
        ('url = f"https://api.example.net/?a=x&token={r}&b=2"', "secret-generic-high-entropy"),
    ],
)
def test_values_inside_connection_and_query_strings(template: str, rule_id: str) -> None:
    plain, token = "K8s-" + rand(8, ALNUM, 60), rand(32, ALNUM, 61)
    line = template.replace("{s}", plain).replace("{r}", token)
    finding = only(scan_secrets("db.py", line + "\n"))
    assert finding.rule_id == rule_id
    assert plain not in finding.snippet and token not in finding.snippet


def test_code_after_a_quote_is_still_code() -> None:
    assert scan_secrets("a.py", 'q = "password=" + pw\nu = "?token=" + make_token()\n') == []
    assert scan_secrets("a.scm", '    "passwd:gecos-field1",\n') == []  # a symbol, not key: value
    assert scan_secrets("a.py", 'example = "password = Spaced-0ut"\n') == []  # prose, not a DSN
