# Test cases for rules/python/ssrf-redirect.yaml.
import urllib.request

import aiohttp
import requests
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from flask import Flask, redirect, request, url_for

app = Flask(__name__)


@app.route("/preview")
def preview():
    target = request.args["url"]
    # ruleid: python-ssrf
    page = requests.get(target, timeout=5)
    # ruleid: python-ssrf
    urllib.request.urlopen(request.form["feed"])
    # ruleid: python-ssrf
    requests.post("http://" + request.args["host"] + "/hook", timeout=5)
    # ok: python-ssrf
    requests.get(f"https://api.example.com/users/{target}", timeout=5)
    # ok: python-ssrf
    requests.get("https://api.example.com/search", params={"q": target}, timeout=5)
    return page.text


@app.route("/fetch")
async def fetch():
    async with aiohttp.ClientSession() as session:
        # ruleid: python-ssrf
        async with session.get(request.args["u"]) as response:
            return await response.text()


@app.route("/login")
def login():
    # ruleid: python-open-redirect
    return redirect(request.args.get("next"))


@app.route("/profile")
def profile():
    # ok: python-open-redirect
    return redirect("/users/" + request.args["name"])


@app.route("/home")
def home():
    # ok: python-open-redirect
    return redirect(url_for(request.args.get("page", "index")))


def django_login(request):
    nxt = request.GET.get("next", "/")
    if url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        # ok: python-open-redirect
        return HttpResponseRedirect(nxt)
    # ruleid: python-open-redirect
    return HttpResponseRedirect(request.GET["fallback"])
