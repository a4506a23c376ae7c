"""The table of provider token formats the secret scanner recognises.

Pure data: one :class:`ProviderRule` per format, each with literal ``keywords`` (a cheap
pre-filter: the regex only runs on text that contains one of them) and a compiled regex
whose ``secret`` group is the credential itself. Every quantifier is bounded and the
patterns have no nested repetition, so matching stays linear on hostile input.

Formats are taken from the providers' published token descriptions:

* Anthropic: ``sk-ant-api03-`` / ``sk-ant-admin01-`` + ~95 base64url characters.
* OpenAI: ``sk-proj-``, ``sk-svcacct-``, ``sk-admin-``, ``sk-None-`` + base64url; legacy
  ``sk-`` + 48 alphanumerics (they embed the ``T3BlbkFJ`` marker).
* GitHub: ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_`` + 36 or more alphanumerics;
  fine-grained ``github_pat_`` + 22 alphanumerics + ``_`` + 59 alphanumerics.
* Slack: ``xoxb-`` (bot), ``xoxp-`` (user), ``xapp-`` (app-level), legacy ``xoxa-``,
  ``xoxr-``, ``xoxs-``; incoming webhooks under ``hooks.slack.com/services/``.
* AWS access key ids: ``AKIA`` (long-term), ``ASIA`` (temporary), ``ABIA``, ``ACCA``,
  ``A3T?`` + 16 upper-case alphanumerics. Secret access keys have no prefix and are found
  by the generic detector next to ``aws_secret_access_key``-like names.
* Google API keys: ``AIza`` + 35 base64url characters.
* Stripe: ``sk_live_`` / ``rk_live_`` (critical), ``sk_test_`` / ``rk_test_`` (medium).
* Also: GitLab ``glpat-``, npm ``npm_``, PyPI ``pypi-AgEIcHlwaS5vcmc`` (a macaroon for
  pypi.org), Hugging Face ``hf_``, SendGrid ``SG.<22>.<43>``, DigitalOcean ``do[por]_v1_``,
  Shopify ``shpat_``/``shpca_``/``shppa_``/``shpss_``.

Private key blocks, JWTs and connection strings need more than a regex (a body, a JSON
header, a password that is not a placeholder); their patterns live here too, their checks in
:mod:`app.scan.secret_detect`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selfheal.model.findings import Severity

# Token characters on either side of a match: a token glued to more token characters is a
# different (longer) string, not this format.
_B = r"(?<![A-Za-z0-9_\-])"
_E = r"(?![A-Za-z0-9_\-])"


@dataclass(frozen=True, slots=True)
class ProviderRule:
    """One token format. ``regex`` has a named group ``secret``; ``prefix_len`` characters of
    it are a fixed prefix (the rest, the body, is what placeholder checks look at)."""

    rule_id: str
    kind: str
    title: str
    severity: Severity
    keywords: tuple[str, ...]
    regex: re.Pattern[str]
    prefix_len: int
    # A substring of every keyword, shared with other rules: checked once per text first.
    root: str


# Substrings shared by several rules' keywords: a text without one skips all those rules.
KEYWORD_ROOTS = ("sk-", "gh", "xox", "k_live_", "k_test_")


def _rule(
    rule_id: str,
    kind: str,
    title: str,
    severity: Severity,
    keywords: tuple[str, ...],
    pattern: str,
    prefix_len: int,
) -> ProviderRule:
    root = next((r for r in KEYWORD_ROOTS if all(r in k for k in keywords)), "")
    compiled = re.compile(pattern)
    return ProviderRule(rule_id, kind, title, severity, keywords, compiled, prefix_len, root)


CRIT = Severity.CRITICAL

# fmt: off
PROVIDER_RULES: tuple[ProviderRule, ...] = (
    # rule id, kind, title / severity, keywords / regex, prefix length
    _rule("secret-anthropic-api-key", "anthropic-api-key", "Anthropic API key",
          CRIT, ("sk-ant-api",),
          _B + r"(?P<secret>sk-ant-api\d{2}-[A-Za-z0-9_\-]{80,120})" + _E, 13),
    _rule("secret-anthropic-admin-key", "anthropic-admin-key", "Anthropic Admin API key",
          CRIT, ("sk-ant-admin",),
          _B + r"(?P<secret>sk-ant-admin\d{2}-[A-Za-z0-9_\-]{80,120})" + _E, 15),
    _rule("secret-openai-api-key", "openai-project-key", "OpenAI project API key",
          CRIT, ("sk-proj-", "sk-None-"),
          _B + r"(?P<secret>sk-(?:proj|None)-[A-Za-z0-9_\-]{40,250})" + _E, 8),
    _rule("secret-openai-api-key", "openai-service-account-key", "OpenAI service-account API key",
          CRIT, ("sk-svcacct-",),
          _B + r"(?P<secret>sk-svcacct-[A-Za-z0-9_\-]{40,250})" + _E, 11),
    _rule("secret-openai-admin-key", "openai-admin-key", "OpenAI admin API key",
          CRIT, ("sk-admin-",),
          _B + r"(?P<secret>sk-admin-[A-Za-z0-9_\-]{40,250})" + _E, 9),
    _rule("secret-openai-api-key", "openai-legacy-key", "OpenAI API key (legacy format)",
          CRIT, ("sk-",),
          _B + r"(?P<secret>sk-[A-Za-z0-9]{48})" + _E, 3),
    _rule("secret-github-token", "github-token", "GitHub token",
          CRIT, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
          _B + r"(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251})" + _E, 4),
    _rule("secret-github-token", "github-fine-grained-pat",
          "GitHub fine-grained personal access token", CRIT, ("github_pat_",),
          _B + r"(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _E, 11),
    _rule("secret-slack-token", "slack-bot-token", "Slack bot token",
          CRIT, ("xoxb-",),
          _B + r"(?P<secret>xoxb-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{20,40})" + _E, 5),
    _rule("secret-slack-token", "slack-user-token", "Slack user token",
          CRIT, ("xoxp-",),
          _B + r"(?P<secret>xoxp-[0-9]{8,13}-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{28,40})" + _E, 5),
    _rule("secret-slack-token", "slack-app-token", "Slack app-level token",
          CRIT, ("xapp-",),
          _B + r"(?P<secret>xapp-[0-9]-[A-Z0-9]{8,15}-[0-9]{8,15}-[A-Za-z0-9]{32,100})" + _E, 5),
    _rule("secret-slack-token", "slack-legacy-token", "Slack legacy token",
          CRIT, ("xoxa-", "xoxr-", "xoxs-"),
          _B + r"(?P<secret>xox[ars]-(?:[0-9]{1,13}-){1,4}[A-Za-z0-9]{10,64})" + _E, 5),
    _rule("secret-slack-webhook", "slack-webhook", "Slack incoming webhook URL",
          CRIT, ("hooks.slack.com/services/",),
          r"(?P<secret>https?://hooks\.slack\.com/services/T[A-Z0-9]{6,14}/B[A-Z0-"
          r"9]{6,14}/[A-Za-z0-9]{20,40})" + _E, 31),
    _rule("secret-aws-access-key-id", "aws-access-key-id", "AWS access key id",
          CRIT, ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
          r"(?<![A-Za-z0-9])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]"
          r"{16})(?![A-Za-z0-9])", 4),
    _rule("secret-google-api-key", "google-api-key", "Google API key",
          CRIT, ("AIza",),
          _B + r"(?P<secret>AIza[A-Za-z0-9_\-]{35})" + _E, 4),
    _rule("secret-stripe-live-key", "stripe-live-key", "Stripe live secret key",
          CRIT, ("sk_live_", "rk_live_"),
          _B + r"(?P<secret>[sr]k_live_[A-Za-z0-9]{10,247})" + _E, 8),
    _rule("secret-stripe-test-key", "stripe-test-key", "Stripe test-mode secret key",
          Severity.MEDIUM, ("sk_test_", "rk_test_"),
          _B + r"(?P<secret>[sr]k_test_[A-Za-z0-9]{10,247})" + _E, 8),
    _rule("secret-gitlab-token", "gitlab-pat", "GitLab personal access token",
          CRIT, ("glpat-",),
          _B + r"(?P<secret>glpat-[A-Za-z0-9_\-]{20,64})" + _E, 6),
    _rule("secret-npm-token", "npm-token", "npm access token",
          CRIT, ("npm_",),
          _B + r"(?P<secret>npm_[A-Za-z0-9]{36})" + _E, 4),
    _rule("secret-pypi-token", "pypi-token", "PyPI API token",
          CRIT, ("pypi-AgEIcHlwaS5vcmc",),
          _B + r"(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,400})" + _E, 20),
    _rule("secret-huggingface-token", "huggingface-token", "Hugging Face access token",
          CRIT, ("hf_",),
          _B + r"(?P<secret>hf_[A-Za-z]{34})" + _E, 3),
    _rule("secret-sendgrid-key", "sendgrid-key", "SendGrid API key",
          CRIT, ("SG.",),
          _B + r"(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + _E, 3),
    _rule("secret-digitalocean-token", "digitalocean-token", "DigitalOcean token",
          CRIT, ("dop_v1_", "doo_v1_", "dor_v1_"),
          _B + r"(?P<secret>do[por]_v1_[a-f0-9]{64})" + _E, 7),
    _rule("secret-shopify-token", "shopify-token", "Shopify access token",
          CRIT, ("shpat_", "shpca_", "shppa_", "shpss_"),
          _B + r"(?P<secret>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})" + _E, 6),
)
# fmt: on

# --- structured formats (checked further in secret_detect) -------------------------------

PRIVATE_KEY_RULE = ("secret-private-key", "private-key", "Private key block", CRIT)
PRIVATE_KEY_BEGIN = re.compile(
    r"-----BEGIN (?P<label>(?:[A-Z0-9]{1,12} ){0,3})PRIVATE KEY(?: BLOCK)?-----"
)
PRIVATE_KEY_END = "-----END "
# The longest key body we look for (an RSA-8192 PEM is ~6.5 KB).
PRIVATE_KEY_MAX_BODY = 16_384
# A body needs at least this many base64 characters to be a key rather than a docs stub.
PRIVATE_KEY_MIN_BODY = 64

JWT_RULE = ("secret-jwt", "jwt", "JSON Web Token", Severity.HIGH)
JWT_REGEX = re.compile(
    _B + r"(?P<secret>eyJ[A-Za-z0-9_\-]{8,4096}\.[A-Za-z0-9_\-]{8,8192}\.[A-Za-z0-9_\-]{16,2048})"
    r"(?![A-Za-z0-9_\-.])"
)

CONNECTION_RULE = (
    "secret-connection-string",
    "connection-string",
    "Connection string with a password",
    CRIT,
)
CONNECTION_REGEX = re.compile(
    r"(?i)(?<![a-z0-9+])(?P<scheme>postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|"
    r"amqps?|mssql|sqlserver|oracle|cockroachdb|clickhouse|db2|couchdb|neo4j|ldaps?|ftps?|"
    r"sftp|smtps?|https?)(?:\+[a-z0-9]{1,20})?://"
    r"(?P<user>[^\s:/@\"'`<>]{0,128}):(?P<secret>[^\s@/\"'`<>]{1,256})@"
    r"(?P<host>[A-Za-z0-9_.\-\[\]:%{}$]{1,255})"
)
