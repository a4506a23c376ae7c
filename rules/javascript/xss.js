// Test cases for rules/javascript/xss.yaml.
const express = require("express");
const escapeHtml = require("escape-html");

const app = express();

app.get("/hello", (req, res) => {
  // ruleid: js-xss
  res.send("<h1>Hello " + req.query.name + "</h1>");
});

app.get("/hello-safe", (req, res) => {
  // ok: js-xss
  res.send("<h1>Hello " + escapeHtml(req.query.name) + "</h1>");
});

function showSearch() {
  const term = new URLSearchParams(location.search).get("q");
  // ruleid: js-xss
  document.getElementById("results").innerHTML = "Results for " + term;
  // ok: js-xss
  document.getElementById("results").textContent = "Results for " + term;
  // ruleid: js-xss
  document.write(location.hash.slice(1));
  // ok: js-xss
  document.getElementById("title").innerHTML = "<b>Search</b>";
}
