# Test cases for rules/python/config.yaml.
import os
import socket

import uvicorn
from django.views.decorators.csrf import csrf_exempt
from flask import Flask, make_response

app = Flask(__name__)

# ruleid: python-debug-enabled
DEBUG = True

# ruleid: python-insecure-cookie-setting
SESSION_COOKIE_SECURE = False
# ok: python-insecure-cookie-setting
CSRF_COOKIE_SECURE = True

# ruleid: python-insecure-cookie-setting
app.config["SESSION_COOKIE_HTTPONLY"] = False

if os.environ.get("LOCAL_DEV"):
    # ok: python-debug-enabled
    DEBUG = True


@app.route("/login")
def login():
    response = make_response("ok")
    # ruleid: python-cookie-without-secure, python-cookie-without-httponly
    response.set_cookie("session", "abc")
    # ruleid: python-cookie-without-secure
    response.set_cookie("session", "abc", secure=False, httponly=True)
    # ok: python-cookie-without-secure, python-cookie-without-httponly
    response.set_cookie("session", "abc", secure=True, httponly=True, samesite="Lax")
    # ok: python-cookie-without-secure
    response.set_cookie("session", "abc", secure=app.config["SECURE"], httponly=True)
    return response


def copy_cookies(jar, cookie):
    # http.cookiejar's set_cookie(cookie) is not a response cookie.
    # ok: python-cookie-without-secure, python-cookie-without-httponly
    jar.set_cookie(cookie)


def serve():
    # ruleid: python-debug-enabled
    app.run(debug=True)
    # ok: python-debug-enabled
    app.run(debug=os.environ.get("FLASK_DEBUG") == "1")
    # ruleid: python-bind-all-interfaces
    uvicorn.run(app, host="0.0.0.0", port=8000)
    # ok: python-bind-all-interfaces
    uvicorn.run(app, host="127.0.0.1", port=8000)
    sock = socket.socket()
    # ruleid: python-bind-all-interfaces
    sock.bind(("0.0.0.0", 8080))


# ruleid: python-csrf-protection-disabled
@csrf_exempt
def webhook(request):
    return request


# ok: python-csrf-protection-disabled
def form_view(request):
    return request


# ruleid: python-csrf-protection-disabled
app.config["WTF_CSRF_ENABLED"] = False
