# Test cases for rules/python/xss.yaml.
import html

import jinja2
from django.http import HttpResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from flask import Flask, Markup, escape, make_response, render_template_string, request

app = Flask(__name__)
TEMPLATE = "<p>Hello {{ name }}</p>"


@app.route("/hello")
def hello():
    name = request.args.get("name", "")
    # ruleid: python-template-injection
    render_template_string("<p>Hello " + name + "</p>")
    # ok: python-template-injection
    return render_template_string(TEMPLATE, name=name)


@app.route("/greet")
def greet():
    name = request.args.get("name", "")
    # ruleid: python-xss
    return f"<h1>Hello {name}</h1>"


@app.route("/greet-safe")
def greet_safe():
    # ok: python-xss
    return f"<h1>Hello {escape(request.args['name'])}</h1>"


@app.route("/plain")
def plain():
    # Flask serves a view's string as text/html, markup in the literal or not.
    # ruleid: python-xss
    return "Count: %s" % request.args["n"]


@app.route("/count")
def count():
    # A dict is served as JSON.
    # ok: python-xss
    return {"count": request.args["n"]}


@app.route("/shout")
def shout():
    word = request.args.get("word", "")
    # ruleid: python-xss
    return word.upper() + "!", 200


@app.route("/card")
def card():
    name = request.args.get("name", "")
    # ruleid: python-xss
    page = render_template_string("<p>{{ name|safe }}</p>", name=name)
    # ok: python-xss
    fine = render_template_string("<p>{{ name }}</p>", name=name)
    return page + fine


@app.route("/banner")
def banner():
    # ruleid: python-xss
    message = Markup("<b>%s</b>" % request.args["msg"])
    # ok: python-xss
    safe = Markup("<b>%s</b>") % request.args["msg"]
    # ruleid: python-xss
    return make_response("<div>" + request.cookies.get("theme", "") + "</div>"), message, safe


def django_view(request):
    comment = request.POST["comment"]
    # ruleid: python-xss
    rendered = mark_safe("<p>" + comment + "</p>")
    # ok: python-xss
    escaped = format_html("<p>{}</p>", comment)
    # ruleid: python-xss
    return HttpResponse("<p>" + comment + "</p>"), rendered, escaped


def django_escaped(request):
    # ok: python-xss
    return HttpResponse("<p>" + html.escape(request.GET["q"]) + "</p>")


def environment():
    # ruleid: python-jinja2-autoescape-disabled
    plain_env = jinja2.Environment(loader=jinja2.FileSystemLoader("templates"), autoescape=False)
    # ok: python-jinja2-autoescape-disabled
    html_env = jinja2.Environment(autoescape=jinja2.select_autoescape())
    return plain_env, html_env
