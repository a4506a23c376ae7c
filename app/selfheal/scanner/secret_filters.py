"""Pure helpers that decide whether a candidate value is a real secret.

* :func:`shannon_entropy` and :func:`looks_random`: the entropy test for generic values.
  Thresholds (bits per character, measured over the value's own characters):

  ==========  ===========================  =========  ===========
  charset     characters                   threshold  min. length
  ==========  ===========================  =========  ===========
  hex         ``0-9 a-f`` (one case)       3.0        20
  base64      ``A-Z a-z 0-9 + / = _ -``    3.5        16
  ==========  ===========================  =========  ===========

  The maximum for a string of length *n* over an alphabet of size *k* is
  ``log2(min(n, k))``: 4.0 for hex, 6.0 for base64. A random 16-character hex string
  scores about 3.2 (but hex needs 20 characters: 16-digit hex values are mostly
  hashes and ids), a random 16-character base64 string about 3.75; English words and
  identifiers (``my_secret_value``) score lower and, unlike generated keys, rarely mix
  upper case, lower case and digits, which is required too (two of the three classes for
  base64, digits and letters for hex).
* :func:`is_placeholder`: ``${VAR}``, ``$VAR``, ``{{ var }}``, ``<your-key>``,
  ``your_api_key_here``, ``xxxx``, ``****``, ``changeme`` and other obvious fakes, values
  read from the environment, and documented example values.
* :func:`classify_name`: is an assignment target secret-like (``password``, ``api_key``,
  ``clientSecret`` ...) and not a neighbour such as ``token_url`` or ``password_field``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
import string
from collections import Counter
from pathlib import PurePosixPath

HEX_ENTROPY_THRESHOLD = 3.0
BASE64_ENTROPY_THRESHOLD = 3.5
MIN_RANDOM_LENGTH = 16
# Hex needs more: 16-hex-digit values are mostly content hashes and ids (64 bits), while hex
# credentials are 32 digits or more.
MIN_HEX_LENGTH = 20

_HEX = frozenset(string.hexdigits)
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=_-")

# Names whose components make an assignment a password or another secret.
PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "passphrase", "pass", "passwort"})
SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "token",
        "apikey",
        "auth",
        "authorization",
        "authtoken",
        "credential",
        "credentials",
        "creds",
        "cred",
        "privatekey",
        "accesskey",
        "secretkey",
        "clientsecret",
    }
)
# "<word> key" pairs that name a secret (api_key, accessKey, PRIVATE_KEY ...).
KEY_QUALIFIERS = frozenset(
    {"api", "access", "private", "secret", "signing", "encryption", "master", "account"}
)
# A last component that makes the name describe something *about* a secret, not the secret.
NOT_SECRET_SUFFIXES = frozenset(
    {
        "url", "uri", "urls", "path", "file", "filename", "dir", "name", "names", "type",
        "field", "fields", "header", "endpoint", "length", "len", "count", "size", "prefix",
        "suffix", "format", "pattern", "regex", "re", "label", "env", "var", "id", "ids",
        "expiry", "expires", "expiration", "ttl", "timeout", "method", "kind", "mode",
        "scope", "scopes", "policy", "rule", "class", "enabled", "required", "hash",
        "placeholder", "hint", "min", "max", "version", "limit", "store", "manager",
        "provider", "source", "location", "key_id", "keyid", "reset", "prompt", "message",
        "error", "validator", "strength", "check", "input", "widget", "char", "chars",
        "symbols", "alphabet", "charset", "characters", "rules", "options", "text", "title",
        "description", "help", "tooltip", "lifetime", "used", "changed", "updated",
    }
)  # fmt: skip

# Words that mark an obvious fake when they appear in a value.
FAKE_SUBSTRINGS = (
    "example", "changeme", "change_me", "change-me", "dummy", "placeholder", "redacted",
    "your_", "your-", "yourkey", "yourtoken", "yourpassword", "your_api", "insert_",
    "replace_me", "replaceme", "notasecret", "not_a_secret", "not-a-secret",
)  # fmt: skip
# A value containing one of these as a word is a fake ("test-password", "MockToken1").
FAKE_WORDS = frozenset(
    {"test", "testing", "fake", "mock", "sample", "dummy", "todo", "fixme", "example",
     "changeme", "placeholder", "your", "xxx"}
)  # fmt: skip
# A value that is exactly one of these is a stand-in, not a credential.
FAKE_VALUES = FAKE_WORDS | frozenset(
    {"foo", "bar", "foobar", "none", "null", "nil", "undefined", "true", "false", "secret",
     "password", "passwd", "pass", "token", "guest", "admin", "root", "user", "username",
     "postgres", "mysql", "redis", "default", "empty", "required", "optional", "string"}
)  # fmt: skip
ENV_READS = ("os.environ", "getenv", "process.env", "env[", "env(", "environ.get", "secrets.")
_FAKE_RUN = re.compile(r"x{4,}|X{4,}|\*{3,}|•{3,}|\.{3,}|#{4,}|0{10,}")
_TEMPLATE = re.compile(r"\$\{|\$\(|\{\{|\}\}|\{%|%\(|%s\b|\{[A-Za-z_0-9.]*\}|\[\[|\]\]")
_IDENTIFIER = re.compile(r"[a-z]+(?:_[a-z]+)+|[A-Z]+(?:_[A-Z]+)+")
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w.\-]{1,100}/|[A-Za-z]:\\")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")

# SHA-256 of values that vendors publish in their documentation as examples. Stored as
# hashes so that this file holds no token-shaped literal.
KNOWN_EXAMPLE_HASHES = frozenset(
    {
        # AWS docs: the example access key id (AKIA...EXAMPLE) and secret access key.
        "1a5d44a2dca19669d72edf4c4f1c27c4c1ca4b4408fbb17f6ce4ad452d78ddb3",
        "78314b11be2e581549ac1c4f616563fad3fdf0c3b71678f6e2299182080e0598",
        # GitHub REST API docs (api.github.com OpenAPI examples): an installation token,
        # a repository's temp_clone_token, and the app-manifest conversion example's
        # client_secret, webhook_secret and private key.
        "797c0ce414586cc8eb6929afe947c720e3e4d351dd070a6fe39f630beaab3054",
        "58ab891f5503eae682fead7e32aa4db5e0cb54faa17feab88f44f5913aac7a70",
        "0bc74d568394fb8fb11adf356e5b3d24856314b8f072a89252c8deeb70b159e1",
        "0ac25cd47fc2fbbd353d0a94b4b8d6c02d63e69555528440b9a99a9fe0e4a731",
        "4ac8770f214e392572044a868ec8d6786916995230151170c19d91293a340496",
    }
)

CONFIG_SUFFIXES = frozenset(
    {".env", ".ini", ".cfg", ".conf", ".config", ".properties", ".yaml", ".yml", ".toml",
     ".tfvars", ".sh", ".bash", ".zsh", ".envrc", ".npmrc", ".pypirc", ".netrc", ".txt",
     ".log", ".service", ".htpasswd"}
)  # fmt: skip
CONFIG_NAMES = frozenset({"dockerfile", ".env", ".envrc", ".npmrc", ".pypirc", ".netrc"})


def shannon_entropy(value: str) -> float:
    """Bits of entropy per character of ``value``, from its own character frequencies."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


def charset_of(value: str) -> str | None:
    """``"hex"``, ``"base64"`` or ``None`` when the value has other characters."""
    chars = set(value)
    if chars <= _HEX and (value.islower() or value.isupper() or value.isdigit()):
        return "hex"
    if chars <= _BASE64:
        return "base64"
    return None


def looks_random(value: str) -> bool:
    """The entropy test: long enough, one charset, mixed classes, above the threshold."""
    if len(value) < MIN_RANDOM_LENGTH:
        return False
    charset = charset_of(value)
    has_digit = any(c.isdigit() for c in value)
    has_lower = any(c.islower() for c in value)
    has_upper = any(c.isupper() for c in value)
    if charset == "hex":
        return (
            len(value) >= MIN_HEX_LENGTH
            and has_digit
            and (has_lower or has_upper)
            and (shannon_entropy(value) >= HEX_ENTROPY_THRESHOLD)
        )
    if charset == "base64":
        classes = has_digit + has_lower + has_upper
        if value.isalpha():  # CamelCase identifiers ("ExclusiveStartKey") have long words
            words = _WORDS.findall(value)
            if len(value) / len(words) >= 3.5:
                return False
        return classes >= 2 and shannon_entropy(value) >= BASE64_ENTROPY_THRESHOLD
    return False


def is_placeholder(value: str) -> bool:
    """True for template variables, env reads, redaction marks and obvious fakes."""
    stripped = value.strip().strip("\"'`")
    if len(stripped) < 4:
        return True
    lower = stripped.lower()
    if stripped[0] in "$%<!&*" or (stripped[0] == "{" and stripped[-1] == "}"):
        return True
    if _TEMPLATE.search(stripped) or _FAKE_RUN.search(stripped):
        return True
    if any(marker in lower for marker in ENV_READS):
        return True
    if any(fake in lower for fake in FAKE_SUBSTRINGS):
        return True
    if len(set(lower)) <= 2:
        return True
    words = [w.lower() for w in _WORDS.findall(stripped)]
    return lower in FAKE_VALUES or any(w in FAKE_WORDS for w in words)


def is_known_example(secret: str) -> bool:
    """A value published in vendor documentation as an example (matched by its hash)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest() in (
        KNOWN_EXAMPLE_HASHES
    )


def is_provider_placeholder(body: str) -> bool:
    """Stricter test for the random body of a provider token (after its fixed prefix).

    A real token body is random, so only clear marks of a fake count: ``xxxx`` runs,
    ``****``, the documented ``EXAMPLE`` suffix, "your"/"placeholder" words, or a body with
    almost no entropy (``aaaa...``, ``0000...``).
    """
    lower = body.lower()
    if _FAKE_RUN.search(body) or _TEMPLATE.search(body):
        return True
    if any(fake in lower for fake in ("example", "your", "placeholder", "redacted", "dummy")):
        return True
    return len(body) >= 8 and shannon_entropy(body) < 2.5


def name_words(name: str) -> list[str]:
    """Lower-case components of an identifier: ``dbPassword`` -> ``["db", "password"]``."""
    return [w.lower() for w in _WORDS.findall(name)]


def is_label_value(name: str, value: str) -> bool:
    """A value that names something rather than being a secret: an enum-like constant
    (``FORCE_CHANGE_PASSWORD = "FORCE_CHANGE_PASSWORD"``), a value that itself contains a
    secret word (``"requireAuthorizationForCacheControl"``), or a snake_case identifier
    (``password_last_used = "not_supported"``)."""
    words = name_words(value)
    if any(w in PASSWORD_WORDS or w in SECRET_WORDS for w in words):
        return True
    if re.sub(r"[^a-z0-9]", "", value.lower()) == re.sub(r"[^a-z0-9]", "", name.lower()):
        return True
    if _PATH.match(value):  # PWD=/home/me, key_file: ./certs/server
        return True
    # "pass" alone is a weak signal (allPass, bypass_mode): its value needs a non-letter.
    name_parts = name_words(name)
    if "pass" in name_parts and not (PASSWORD_WORDS - {"pass"}) & set(name_parts):
        if value.isalpha():
            return True
    return _IDENTIFIER.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def classify_name(name: str) -> str | None:
    """``"password"``, ``"secret"`` or ``None`` for an assignment target name."""
    words = name_words(name)
    if not words or "public" in words:
        return None
    if words[-1] in NOT_SECRET_SUFFIXES or "".join(words[-2:]) in NOT_SECRET_SUFFIXES:
        return None
    if any(w in PASSWORD_WORDS for w in words):
        return "password"
    if any(w in SECRET_WORDS for w in words):
        return "secret"
    for left, right in itertools.pairwise(words):
        if right == "key" and left in KEY_QUALIFIERS:
            return "secret"
    return None


def is_config_path(path: str) -> bool:
    """Files where an unquoted ``name = value`` is data, not code (.env, YAML, INI ...)."""
    pure = PurePosixPath(path.replace("\\", "/"))
    name = pure.name.lower()
    if name in CONFIG_NAMES or name.startswith(".env") or name.endswith(".env"):
        return True
    return pure.suffix.lower() in CONFIG_SUFFIXES
