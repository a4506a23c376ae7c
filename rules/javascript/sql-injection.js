// Test cases for rules/javascript/sql-injection.yaml.
const express = require("express");
const { Pool } = require("pg");

const app = express();
const pool = new Pool();
const cache = new Map();

app.get("/users", async (req, res) => {
  // ruleid: js-sql-injection
  const rows = await pool.query("SELECT * FROM users WHERE name = '" + req.query.name + "'");
  // ruleid: js-sql-injection
  await pool.query(`DELETE FROM sessions WHERE id = ${req.params.id}`);
  // ok: js-sql-injection
  await pool.query("SELECT * FROM users WHERE name = $1", [req.query.name]);
  // ok: js-sql-injection
  const hit = cache.get(req.query.key);
  res.json({ rows, hit });
});

async function findUser(db, username) {
  const sql = `SELECT * FROM users WHERE name = '${username}'`;
  // ruleid: js-sql-string-built
  return db.query(sql);
}

async function runStatement(db, statement) {
  // ok: js-sql-string-built
  return db.query(statement);
}
