// Test cases for rules/javascript/ssrf.yaml.
const axios = require("axios");
const express = require("express");

const app = express();

app.get("/preview", async (req, res) => {
  // ruleid: js-ssrf
  const page = await fetch(req.query.url);
  // ruleid: js-ssrf
  const other = await axios.get(`${req.query.host}/status`);
  // ok: js-ssrf
  const user = await axios.get(`https://api.example.com/users/${req.query.id}`);
  // ok: js-ssrf
  const fixed = await fetch("https://api.example.com/health");
  res.json({ page: await page.text(), other: other.data, user: user.data, fixed: fixed.ok });
});
