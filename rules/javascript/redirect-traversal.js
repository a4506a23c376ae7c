// Test cases for rules/javascript/redirect-traversal.yaml.
const express = require("express");
const fs = require("fs");
const path = require("path");

const app = express();

app.get("/login", (req, res) => {
  // ruleid: js-open-redirect
  res.redirect(req.query.next);
});

app.get("/profile", (req, res) => {
  // ok: js-open-redirect
  res.redirect("/users/" + req.query.name);
});

app.get("/go", (req, res) => {
  // ruleid: js-open-redirect
  res.redirect(302, `${req.query.target}`);
});

app.get("/files/:name", (req, res) => {
  // ruleid: js-path-traversal
  res.sendFile(path.join(__dirname, "uploads", req.params.name));
});

app.get("/files-safe/:name", (req, res) => {
  // ok: js-path-traversal
  res.sendFile(req.params.name, { root: path.join(__dirname, "uploads") });
});

app.get("/read", (req, res) => {
  // ruleid: js-path-traversal
  const text = fs.readFileSync("/srv/data/" + req.query.file, "utf8");
  // ok: js-path-traversal
  const other = fs.readFileSync("/srv/data/" + path.basename(req.query.file), "utf8");
  res.send(text + other);
});
