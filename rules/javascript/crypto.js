// Test cases for rules/javascript/crypto.yaml.
const crypto = require("crypto");
const https = require("https");

// ruleid: js-tls-verification-disabled
const agent = new https.Agent({ rejectUnauthorized: false });
// ok: js-tls-verification-disabled
const strict = new https.Agent({ rejectUnauthorized: true, ca: process.env.CA_BUNDLE });
// ruleid: js-tls-verification-disabled
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

function makeSession() {
  // ruleid: js-weak-random-for-secret
  const sessionToken = Math.random().toString(36).slice(2);
  // ok: js-weak-random-for-secret
  const resetToken = crypto.randomBytes(32).toString("hex");
  // ok: js-weak-random-for-secret
  const jitter = Math.random() * 100;
  return { sessionToken, resetToken, jitter, agent, strict };
}

function generatePassword() {
  // ruleid: js-weak-random-for-secret
  return Math.random().toString(36);
}

// ruleid: js-weak-hash
const etag = crypto.createHash("md5").update("body").digest("hex");
// ok: js-weak-hash
const digest = crypto.createHash("sha256").update("body").digest("hex");
