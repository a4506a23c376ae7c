# Test cases for rules/python/dangerous.yaml.
import ftplib
import logging.config
import os
import stat
import tempfile
from pathlib import Path

import requests


def permissions(path):
    # ruleid: python-world-writable-permissions
    os.chmod(path, 0o777)
    # ruleid: python-world-writable-permissions
    os.chmod(path, stat.S_IRWXU | stat.S_IRWXO)
    # ruleid: python-world-writable-permissions
    Path(path).chmod(0o666)
    # ok: python-world-writable-permissions
    os.chmod(path, 0o755)
    # ok: python-world-writable-permissions
    os.chmod(path, 0o600)
    # ok: python-world-writable-permissions
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def temp():
    # ruleid: python-insecure-temp-file
    name = tempfile.mktemp(suffix=".txt")
    # ok: python-insecure-temp-file
    handle, other = tempfile.mkstemp(suffix=".txt")
    return name, handle, other


def delete_account(user, account):
    # ruleid: python-assert-for-access-control
    assert user.is_admin, "admins only"
    # ruleid: python-assert-for-access-control
    assert user.has_perm("accounts.delete")
    # ok: python-assert-for-access-control
    assert isinstance(account, dict)
    account.clear()


def fetch():
    # ruleid: python-request-without-timeout
    requests.get("https://example.com")
    # ok: python-request-without-timeout
    requests.get("https://example.com", timeout=10)


def settings(requests):
    # A parameter that happens to be called "requests" is not the library.
    # ok: python-request-without-timeout
    return requests.get("coder", "rules")


def listen():
    # ruleid: python-logging-config-listen
    unsafe = logging.config.listen(9999)
    # ok: python-logging-config-listen
    checked = logging.config.listen(9999, verify=lambda data: data)
    return unsafe, checked


def transfer():
    # ruleid: python-cleartext-protocol
    plain = ftplib.FTP("ftp.example.com")
    # ok: python-cleartext-protocol
    tls = ftplib.FTP_TLS("ftp.example.com")
    return plain, tls


def access_level(user):
    # ruleid: python-bidi-control-characters
    if user.role != "admin‮ ⁦# user only⁩ ⁦":
        return "user"
    # ok: python-bidi-control-characters
    return "admin" + "\u202e"
