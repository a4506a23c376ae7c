// Test cases for rules/javascript/code-injection.yaml.
const express = require("express");
const vm = require("vm");

const app = express();

app.get("/calc", (req, res) => {
  // ruleid: js-code-injection
  const result = eval(req.query.expr);
  // ruleid: js-code-injection
  const fn = new Function("x", "return " + req.body.formula);
  // ruleid: js-code-injection
  vm.runInNewContext(req.query.code, {});
  // ok: js-code-injection
  const fixed = eval("1 + 2");
  res.send(String(result + fn(1) + fixed));
});

function compute(expression) {
  // ruleid: js-eval-non-constant
  return eval(expression);
}

function schedule(name) {
  // ruleid: js-eval-non-constant
  setTimeout("run('" + name + "')", 100);
  // ok: js-eval-non-constant
  setTimeout(() => run(name), 100);
  // ok: js-eval-non-constant
  setTimeout(function () {
    console.log(`timed out: ${name}`);
  }, 100);
}

function constant() {
  // ok: js-eval-non-constant
  return eval("2 + 2");
}

function isAdmin(role) {
  // ruleid: js-bidi-control-characters
  return role === "user‮ ⁦// admin⁩ ⁦";
}

// ok: js-bidi-control-characters
const escaped = "\u202e";
