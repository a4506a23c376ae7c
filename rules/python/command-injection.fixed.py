# Test cases for rules/python/command-injection.yaml.
import asyncio
import os
import shlex
import subprocess

from flask import Flask, request

app = Flask(__name__)


@app.route("/ping")
def ping():
    host = request.args["host"]
    # ruleid: python-command-injection
    subprocess.run("ping -c 1 " + host, shell=True)
    # ruleid: python-command-injection
    os.system(f"ping -c 1 {host}")
    # ruleid: python-command-injection
    os.popen("nslookup %s" % host)
    # ruleid: python-command-injection
    subprocess.check_output(["bash", "-c", "ping " + host])
    # ok: python-command-injection
    subprocess.run("ping -c 1 " + shlex.quote(host), shell=True)
    # ok: python-command-injection
    subprocess.run(["ping", "-c", "1", host])
    # ok: python-command-injection
    os.system("uptime")
    return "ok"


@app.post("/convert/<fmt>")
async def convert(fmt):
    # ruleid: python-command-injection
    await asyncio.create_subprocess_shell("convert in.png out." + fmt)
    # ok: python-command-injection
    await asyncio.create_subprocess_shell("convert in.png -resize %d out.png" % int(fmt))


def deploy(branch):
    # ruleid: python-shell-non-constant
    subprocess.call("git checkout " + branch, shell=True)
    # ok: python-shell-non-constant
    subprocess.call("git checkout " + shlex.quote(branch), shell=True)
    # ok: python-shell-non-constant
    subprocess.call(["git", "checkout", branch])


def from_env():
    # ruleid: python-shell-non-constant
    os.system("tar czf backup.tgz " + os.environ["BACKUP_DIR"])
    # ok: python-shell-non-constant
    os.system("tar czf backup.tgz /srv/data")
    cmd = "ls " + "-l"
    # ok: python-shell-non-constant
    os.system(cmd)


def remote(client, path):
    # ruleid: python-shell-non-constant
    client.exec_command("cat " + path)


def view(request):
    # Reported once, by python-command-injection (python-shell-non-constant stays silent).
    # ruleid: python-command-injection
    os.system("echo " + request.GET["x"])


class Runner:
    async def run(self, command):
        # ruleid: python-shell-non-constant
        await asyncio.create_subprocess_shell("nice " + command)

    def run_fixed(self):
        # ok: python-shell-non-constant
        subprocess.run("make test", shell=True)


def housekeeping():
    # ruleid: python-shell-true-with-list
    subprocess.run(["git", "gc", "--prune=now"], check=True)
    # ruleid: python-shell-true-with-list
    listing = subprocess.check_output(
        ['ls', '-l', '/var/log'],
    )
    # ok: python-shell-true-with-list
    subprocess.run(["git", "gc"], check=True)
    # ok: python-shell-true-with-list
    subprocess.run(["echo hello && rm -rf build"], shell=True)
    # ok: python-shell-true-with-list
    subprocess.run("make clean", shell=True)
    return listing
