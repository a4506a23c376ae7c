// Test cases for rules/javascript/command-injection.yaml.
const { exec, execFile } = require("child_process");
const child_process = require("child_process");
const express = require("express");

const app = express();

app.get("/ping", (req, res) => {
  // ruleid: js-command-injection
  exec("ping -c 1 " + req.query.host, (err, out) => res.send(out));
  // ruleid: js-command-injection
  child_process.execSync(`nslookup ${req.params.name}`);
  // ruleid: js-command-injection
  child_process.spawn("sh", ["-c", "ls " + req.body.dir]);
  // ok: js-command-injection
  execFile("ping", ["-c", "1", req.query.host], (err, out) => res.send(out));
  // ok: js-command-injection
  exec("uptime");
});

function checkout(branch) {
  // ruleid: js-shell-non-constant
  exec(`git checkout ${branch}`);
  // ok: js-shell-non-constant
  execFile("git", ["checkout", branch]);
}

class Deployer {
  build(target) {
    // ruleid: js-shell-non-constant
    exec("make " + target);
    // ok: js-shell-non-constant
    execFile("make", [target]);
  }
}
