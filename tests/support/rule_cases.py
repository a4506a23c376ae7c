"""A labelled benchmark of small web handlers for the taint rules and the new rule classes.

Written for this project (no case comes from another benchmark). Each case is one file: a
Flask view or a Django view that is either vulnerable or safe. For the request-driven
classes (command, code, path and XPath injection, reflected XSS, session trust boundary)
every class gets the same twenty data-flow shapes with its own sink:

* ten vulnerable flows: direct, f-string, concatenation, slicing, ``str.format``, ``%``, a
  helper in the same file, a dict entry holding the request value, a list element, string
  methods;
* ten safe ones: a constant reassigned before the sink, constants on every branch, an
  allow-list guard that aborts, raises or returns, a dict whose other key holds the request
  value, a sanitiser, a sanitising helper in the same file, the request value only logged,
  and a parameterised call.

Weak randomness has its own twenty handlers (``random`` into cookies, session entries,
tokens and reset codes, against ``secrets``, ``SystemRandom`` and non-security uses). A
last set, one vulnerable and one safe handler per class, is written differently again (other
sinks, FastAPI and Django, other names) as a check on the shapes above.
``bench/rule_quality.py`` scans them with selfheal's rules and with bandit.
"""

# The case tables read best as one handler per line, however long the line.
# ruff: noqa: E501

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RuleCase:
    klass: str
    name: str
    vulnerable: bool
    text: str


@dataclass(frozen=True)
class Sink:
    """How one class reaches its sink: ``use(expr)`` is the statement(s) that return a
    response using ``expr``; ``clean(expr)`` a sanitised expression; ``param`` a safe call."""

    imports: str
    use: Callable[[str], str]
    clean: Callable[[str], str]
    param: str


SINKS: dict[str, Sink] = {
    "command-injection": Sink(
        "import os\nimport shlex\nimport subprocess\n",
        lambda e: f"out = subprocess.run({e}, shell=True, capture_output=True)\nreturn out.stdout",
        lambda e: f"shlex.quote({e})",
        'out = subprocess.run(["ping", "-c", "1", host], capture_output=True)\nreturn out.stdout',
    ),
    "code-injection": Sink(
        "import ast\n",
        lambda e: f"return str(eval({e}))",
        lambda e: f"int({e})",
        "return str(ast.literal_eval(host))",
    ),
    "path-traversal": Sink(
        "import os\nfrom werkzeug.utils import secure_filename\n",
        lambda e: f"with open({e}) as handle:\n    return handle.read()",
        lambda e: f"secure_filename({e})",
        'with open(os.path.join("/srv/files", "index.txt")) as handle:\n'
        "    return handle.read() + host",
    ),
    "xpath-injection": Sink(
        "from lxml import etree\n",
        lambda e: f'tree = etree.parse("/srv/users.xml")\nreturn str(tree.xpath({e}))',
        lambda e: f"int({e})",
        'tree = etree.parse("/srv/users.xml")\nreturn str(tree.xpath("//user[@name=$n]", n=host))',
    ),
    "reflected-xss": Sink(
        "import html\nfrom flask import make_response\n",
        lambda e: f"return make_response({e})",
        lambda e: f"html.escape({e})",
        'return render_template("hello.html", name=host)',
    ),
    "trust-boundary": Sink(
        "",
        lambda e: f'session["profile"] = {e}\nreturn "saved"',
        lambda e: f'("dark" if {e} == "dark" else "light")',
        'session["profile"] = load_profile(current_user_id())\nreturn "saved " + host',
    ),
}

FLASK = """from flask import Flask, abort, render_template, request, session
{imports}
app = Flask(__name__)
ALLOWED = {{"alpha", "beta", "gamma"}}
log = app.logger
{helper}

@app.route("/run")
def handler():
{body}
"""
DJANGO = """from django.http import HttpResponse, HttpResponseBadRequest
{imports}
ALLOWED = {{"alpha", "beta", "gamma"}}
{helper}

def handler(request):
{body}
"""


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def _vulnerable(sink: Sink, src: str) -> list[tuple[str, str, str]]:
    """(shape, helper, body) of the ten vulnerable flows."""
    use = sink.use
    return [
        ("direct", "", use(src)),
        ("fstring", "", f'host = {src}\nvalue = f"check {{host}} now"\n{use("value")}'),
        ("concat", "", f'host = {src}\nvalue = "check " + host\n{use("value")}'),
        ("slice", "", f"host = {src}\nvalue = host[2:]\n{use('value')}"),
        ("format", "", f'host = {src}\nvalue = "check {{}}".format(host)\n{use("value")}'),
        ("percent", "", f'host = {src}\nvalue = "check %s" % host\n{use("value")}'),
        (
            "helper",
            '\ndef build(part):\n    return "check " + part\n',
            f"host = {src}\n{use('build(host)')}",
        ),
        (
            "dict-same-key",
            "",
            f'opts = {{"target": {src}, "mode": "fast"}}\n' + use('opts["target"]'),
        ),
        ("list-element", "", f"parts = [{src}]\n{use('parts[0]')}"),
        ("string-methods", "", f"host = {src}\n{use('host.strip().lower()')}"),
    ]


def _safe(sink: Sink, src: str, django: bool) -> list[tuple[str, str, str]]:
    """(shape, helper, body) of the ten safe flows."""
    use = sink.use
    stop = "return HttpResponseBadRequest()" if django else "abort(400)"
    bad = "return HttpResponseBadRequest()" if django else 'return "bad request", 400'
    return [
        ("constant-reassigned", "", f'host = {src}\nhost = "alpha"\n{use("host")}'),
        (
            "constant-branches",
            "",
            f'host = {src}\nif len(host) > 3:\n    value = "alpha"\nelse:\n    value = "beta"\n'
            f"{use('value')}",
        ),
        ("guard-abort", "", f"host = {src}\nif host not in ALLOWED:\n    {stop}\n{use('host')}"),
        (
            "guard-raise",
            "",
            f'host = {src}\nif host not in ALLOWED:\n    raise ValueError("unknown")\n{use("host")}',
        ),
        ("guard-return", "", f"host = {src}\nif host not in ALLOWED:\n    {bad}\n{use('host')}"),
        (
            "dict-other-key",
            "",
            f'opts = {{"target": {src}, "mode": "fast"}}\n' + use('opts["mode"]'),
        ),
        ("sanitiser", "", f"host = {src}\n{use(sink.clean('host'))}"),
        (
            "sanitising-helper",
            f"\ndef clean(part):\n    return {sink.clean('part')}\n",
            f"host = {src}\n{use('clean(host)')}",
        ),
        ("logged-only", "", f'host = {src}\nlog.info("asked for %s", host)\n{use(repr("alpha"))}'),
        ("parameterised", "", f"host = {src}\n{sink.param}"),
    ]


def _render(klass: str, vulnerable: bool, index: int, shape: tuple[str, str, str]) -> RuleCase:
    name, helper, body = shape
    django = index % 2 == 1 and klass != "trust-boundary"
    sink = SINKS[klass]
    template = DJANGO if django else FLASK
    if django:
        body = body.replace("abort(400)", "return HttpResponseBadRequest()")
        body = body.replace("make_response(", "HttpResponse(")
    text = template.format(imports=sink.imports, helper=helper, body=_indent(body))
    label = "vuln" if vulnerable else "safe"
    return RuleCase(klass, f"{klass}/{label}_{index:02d}_{name}.py", vulnerable, text)


def _flow_cases() -> list[RuleCase]:
    cases: list[RuleCase] = []
    for klass, sink in SINKS.items():
        for vulnerable in (True, False):
            for index in range(10):
                django = index % 2 == 1 and klass != "trust-boundary"
                src = 'request.GET.get("host", "")' if django else 'request.args.get("host", "")'
                shapes = _vulnerable(sink, src) if vulnerable else _safe(sink, src, django)
                cases.append(_render(klass, vulnerable, index, shapes[index]))
    return cases


RANDOM_HEAD = """import os
import random
import secrets
import string
import time
import uuid

from flask import Flask, make_response, session

app = Flask(__name__)
ALPHABET = string.ascii_letters + string.digits
"""

# (name, vulnerable, body of a Flask view)
RANDOM_CASES: tuple[tuple[str, bool, str], ...] = (
    ("cookie-randint", True, 'resp = make_response("ok")\nresp.set_cookie("sid", str(random.randint(0, 10**12)))\nreturn resp'),
    ("session-choice", True, 'session["csrf"] = "".join(random.choice(ALPHABET) for _ in range(32))\nreturn "ok"'),
    ("reset-code", True, 'code = random.randint(100000, 999999)\nsend_reset_mail(code)\nreturn "sent"'),
    ("token-choices", True, 'token = "".join(random.choices(ALPHABET, k=40))\nstore_token(token)\nreturn token'),
    ("api-key-getrandbits", True, 'api_key = "%032x" % random.getrandbits(128)\nreturn api_key'),
    ("password-sample", True, 'new_password = "".join(random.sample(ALPHABET, 12))\nset_password(new_password)\nreturn "ok"'),
    ("nonce-random", True, 'nonce = str(random.random())[2:]\nsession["nonce"] = nonce\nreturn nonce'),
    ("cookie-helper", True, 'value = weak_id()\nresp = make_response("ok")\nresp.set_cookie("remember", value)\nreturn resp'),
    ("otp-randrange", True, 'otp = str(random.randrange(10**6)).zfill(6)\nsession["otp"] = otp\nreturn "sent"'),
    ("salt-randbytes", True, 'salt = random.randbytes(16)\nreturn hash_with(salt)'),
    ("cookie-secrets", False, 'resp = make_response("ok")\nresp.set_cookie("sid", secrets.token_urlsafe(32))\nreturn resp'),
    ("session-secrets", False, 'session["csrf"] = secrets.token_hex(16)\nreturn "ok"'),
    ("reset-systemrandom", False, 'code = random.SystemRandom().randint(100000, 999999)\nsend_reset_mail(code)\nreturn "sent"'),
    ("token-secrets-choice", False, 'token = "".join(secrets.choice(ALPHABET) for _ in range(40))\nstore_token(token)\nreturn token'),
    ("jitter", False, 'time.sleep(random.uniform(0.1, 0.5))\nreturn "retried"'),
    ("shuffle-quiz", False, 'questions = load_questions()\nrandom.shuffle(questions)\nreturn render_quiz(questions)'),
    ("ab-bucket", False, 'bucket = random.choice(["a", "b"])\nreturn show_variant(bucket)'),
    ("uuid4-request-id", False, 'request_id = str(uuid.uuid4())\nreturn request_id'),
    ("urandom-salt", False, 'salt = os.urandom(16)\nreturn hash_with(salt)'),
    ("sample-colour", False, 'colour = random.choice(["red", "green", "blue"])\nsession["colour"] = "blue"\nreturn colour'),
)  # fmt: skip
RANDOM_HELPER = "\n\ndef weak_id():\n    return str(random.random())\n"


def _random_cases() -> list[RuleCase]:
    cases = []
    for index, (name, vulnerable, body) in enumerate(RANDOM_CASES):
        helper = RANDOM_HELPER if name == "cookie-helper" else ""
        text = f'{RANDOM_HEAD}{helper}\n\n@app.route("/r")\ndef handler():\n{_indent(body)}\n'
        label = "vuln" if vulnerable else "safe"
        cases.append(
            RuleCase(
                "weak-randomness",
                f"weak-randomness/{label}_{index:02d}_{name}.py",
                vulnerable,
                text,
            )
        )
    return cases


# Handlers written differently from the shapes above: other sinks, other frameworks, other
# names. (class, name, vulnerable, whole file)
VARIETY: tuple[tuple[str, str, bool, str], ...] = (
    ("command-injection", "popen-fastapi", True, 'import os\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/dig/{domain}")\ndef dig(domain: str):\n    return os.popen("dig +short " + domain).read()\n'),
    ("command-injection", "popen-list", False, 'import subprocess\nfrom flask import Flask, request\n\napp = Flask(__name__)\n\n\n@app.route("/dig")\ndef dig():\n    domain = request.args["d"]\n    return subprocess.run(["dig", "+short", domain], capture_output=True).stdout\n'),
    ("code-injection", "exec-form", True, 'from flask import Flask, request\n\napp = Flask(__name__)\n\n\n@app.route("/calc", methods=["POST"])\ndef calc():\n    scope = {}\n    exec("result = " + request.form["expr"], scope)\n    return str(scope["result"])\n'),
    ("code-injection", "literal-eval", False, 'import ast\nfrom flask import Flask, request\n\napp = Flask(__name__)\n\n\n@app.route("/calc", methods=["POST"])\ndef calc():\n    return str(ast.literal_eval(request.form["expr"]))\n'),
    ("path-traversal", "send-file", True, 'from flask import Flask, request, send_file\n\napp = Flask(__name__)\n\n\n@app.route("/download")\ndef download():\n    name = request.args.get("file", "")\n    return send_file("/srv/reports/" + name)\n'),
    ("path-traversal", "basename", False, 'import os\nfrom flask import Flask, request, send_file\n\napp = Flask(__name__)\n\n\n@app.route("/download")\ndef download():\n    name = os.path.basename(request.args.get("file", ""))\n    return send_file(os.path.join("/srv/reports", name))\n'),
    ("xpath-injection", "django-xpath", True, 'from django.http import HttpResponse\nfrom lxml import etree\n\nTREE = etree.parse("/srv/users.xml")\n\n\ndef lookup(request):\n    who = request.GET["who"]\n    return HttpResponse(str(TREE.xpath("//user[@name=\'%s\']/@email" % who)))\n'),
    ("xpath-injection", "django-xpath-variable", False, 'from django.http import HttpResponse\nfrom lxml import etree\n\nTREE = etree.parse("/srv/users.xml")\n\n\ndef lookup(request):\n    who = request.GET["who"]\n    return HttpResponse(str(TREE.xpath("//user[@name=$who]/@email", who=who)))\n'),
    ("reflected-xss", "markup", True, 'from flask import Flask, request\nfrom markupsafe import Markup\n\napp = Flask(__name__)\n\n\n@app.route("/hi")\ndef hi():\n    return Markup("<b>Hello %s</b>" % request.args.get("name", ""))\n'),
    ("reflected-xss", "markup-escaped", False, 'from flask import Flask, request\nfrom markupsafe import Markup, escape\n\napp = Flask(__name__)\n\n\n@app.route("/hi")\ndef hi():\n    return Markup("<b>Hello %s</b>") % escape(request.args.get("name", ""))\n'),
    ("trust-boundary", "django-session-role", True, 'from django.http import HttpResponse\n\n\ndef set_role(request):\n    request.session["role"] = request.POST.get("role", "viewer")\n    return HttpResponse("ok")\n'),
    ("trust-boundary", "django-session-derived", False, 'from django.http import HttpResponse\n\n\ndef set_role(request):\n    request.session["role"] = lookup_role(request.user)\n    return HttpResponse("ok")\n'),
    ("weak-randomness", "signed-cookie", True, 'import random\nfrom django.http import HttpResponse\n\n\ndef login(request):\n    resp = HttpResponse("ok")\n    resp.set_signed_cookie("device", str(random.getrandbits(64)))\n    return resp\n'),
    ("weak-randomness", "secrets-randbits", False, 'import secrets\nfrom django.http import HttpResponse\n\n\ndef login(request):\n    resp = HttpResponse("ok")\n    resp.set_signed_cookie("device", str(secrets.randbits(64)))\n    return resp\n'),
)  # fmt: skip


def _variety_cases() -> list[RuleCase]:
    cases = []
    for index, (klass, name, vulnerable, text) in enumerate(VARIETY):
        label = "vuln" if vulnerable else "safe"
        cases.append(RuleCase(klass, f"{klass}/{label}_v{index:02d}_{name}.py", vulnerable, text))
    return cases


def generate() -> list[RuleCase]:
    return _flow_cases() + _random_cases() + _variety_cases()


def write(cases: list[RuleCase], folder: Path) -> None:
    for case in cases:
        path = folder / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(case.text, encoding="utf-8")
