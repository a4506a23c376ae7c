# Test cases for rules/python/trust-boundary.yaml.
from django.http import HttpResponseBadRequest
from flask import Flask, abort, request, session

app = Flask(__name__)
ROLES = {"viewer", "editor"}


@app.route("/prefs", methods=["POST"])
def save_prefs():
    # ruleid: python-session-trust-boundary
    session["role"] = request.form["role"]
    lang = request.args.get("lang", "en")
    # ruleid: python-session-trust-boundary
    session["greeting"] = f"lang={lang[:2]}"
    # ruleid: python-session-trust-boundary
    session.update({"next": request.args.get("next")})
    return "ok"


def django_view(request):
    user = request.POST.get("user")
    # ruleid: python-session-trust-boundary
    request.session["user"] = user.strip()
    return HttpResponseBadRequest()


@app.route("/theme")
def theme():
    choice = request.args.get("theme", "")
    # ok: python-session-trust-boundary
    session["theme"] = "dark" if choice == "dark" else "light"
    role = request.args.get("role", "")
    if role not in ROLES:
        abort(403)
    # ok: python-session-trust-boundary
    session["role"] = role
    # ok: python-session-trust-boundary
    session["visits"] = session.get("visits", 0) + 1
    return "ok"


def django_ok(request):
    wanted = request.GET.get("tab")
    if wanted not in ("home", "settings"):
        return HttpResponseBadRequest()
    # ok: python-session-trust-boundary
    request.session["tab"] = wanted
    return HttpResponseBadRequest()
