# Test cases for rules/python/code-injection.yaml.
import importlib

from flask import Flask, request

app = Flask(__name__)


@app.route("/calc")
def calc():
    expr = request.args.get("expr")
    # ruleid: python-code-injection
    result = eval(expr)
    # ruleid: python-code-injection
    exec("x = " + request.form["value"])
    # ruleid: python-code-injection
    importlib.import_module(request.args["plugin"])
    # ok: python-code-injection
    eval("1 + 2")
    return str(result)


def evaluate(expression):
    # ruleid: python-eval-non-constant
    return eval(expression)


def run_script(path):
    with open(path) as handle:
        source = handle.read()
    # ruleid: python-eval-non-constant
    exec(compile(source, path, "exec"))


def build(tree, filename):
    # compile() alone only builds a code object; running it is what exec reports.
    # ok: python-eval-non-constant
    return compile(tree, filename, "exec")


def constants():
    # ok: python-eval-non-constant
    eval("2 ** 10")
    snippet = "print('hi')"
    # ok: python-eval-non-constant
    exec(snippet)


def model_eval(model):
    # A method named eval is not the builtin.
    # ok: python-eval-non-constant
    model.eval()


def django_view(request):
    # Reported once, by python-code-injection (python-eval-non-constant stays silent).
    # ruleid: python-code-injection
    eval(request.GET["code"])
