# Test cases for rules/python/crypto.yaml.
import hashlib
import hmac
import random
import secrets
import ssl

import httpx
import paramiko
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from Crypto.Cipher import DES


def store_password(password):
    # ruleid: python-weak-password-hash
    return hashlib.md5(password.encode()).hexdigest()


def sign(api_token):
    # ruleid: python-weak-password-hash
    return hashlib.new("sha1", api_token).hexdigest()


def sign_payload(data):
    # ruleid: python-weak-hash
    return hashlib.md5(data).hexdigest()


def webhook_headers(body):
    # ruleid: python-weak-hash
    signature = hashlib.sha1(body).hexdigest()
    return {"X-Signature": signature}


def checksum(data):
    # ok: python-weak-hash
    return hashlib.md5(data).hexdigest()


def etag_for(content):
    # ok: python-weak-hash
    etag = hashlib.sha1(content).hexdigest()
    # ok: python-weak-hash
    mac = hmac.new(SIGNING_KEY, content, hashlib.sha1).hexdigest()
    return etag, mac


def cache_key(data):
    # ok: python-weak-hash
    fast = hashlib.md5(data, usedforsecurity=False).hexdigest()
    # ok: python-weak-hash
    strong = hashlib.sha256(data).hexdigest()
    # ok: python-weak-password-hash
    named = hashlib.new("sha256", data)
    return fast, strong, named


def make_reset():
    # ruleid: python-weak-random-for-secret
    reset_token = "".join(random.choice("abcdef0123456789") for _ in range(32))
    # ok: python-weak-random-for-secret
    session_id = secrets.token_urlsafe(32)
    # ok: python-weak-random-for-secret
    delay = random.uniform(0.5, 1.5)
    return reset_token, session_id, delay


def generate_password(length=12):
    # ruleid: python-weak-random-for-secret
    return "".join(random.choices("abcdefghijklmnop", k=length))


def issue_cookie(resp, user):
    # ruleid: python-weak-random-security-value
    resp.set_cookie("sid", str(random.randint(0, 10**12)))
    code = random.randrange(10**6)
    # ruleid: python-weak-random-security-value
    send_reset_code(user, code)
    # ok: python-weak-random-security-value
    resp.set_cookie("sid", secrets.token_urlsafe(32))
    # ok: python-weak-random-security-value
    send_reset_code(user, secrets.randbelow(10**6))
    # ok: python-weak-random-security-value
    resp.set_cookie("layout", "wide")
    delay = random.uniform(0.1, 0.5)
    # ok: python-weak-random-security-value
    schedule_retry(user, delay)
    return resp


def weak_id():
    return str(random.random())


def strong_id():
    return secrets.token_hex(16)


def remember_me(resp):
    # ruleid: python-weak-random-security-value
    resp.set_cookie("remember", weak_id())
    # ok: python-weak-random-security-value
    resp.set_cookie("remember", strong_id())
    return resp


def shuffle_deck(deck):
    # ok: python-weak-random-for-secret
    return random.sample(deck, len(deck))


def tls():
    # ruleid: python-tls-verification-disabled
    requests.get("https://internal.example.com", verify=False, timeout=5)
    # ok: python-tls-verification-disabled
    requests.get("https://internal.example.com", verify="/etc/ssl/private-ca.pem", timeout=5)
    # ruleid: python-tls-verification-disabled
    requests.post(verify=False, url="https://internal.example.com", timeout=5)
    # ruleid: python-tls-verification-disabled
    client = httpx.Client(verify=False)
    # ruleid: python-tls-verification-disabled
    httpx.get(
        "https://internal.example.com",
        verify=False,
    )
    # ok: python-tls-verification-disabled
    httpx.get("https://internal.example.com", verify=True)
    session = requests.Session()
    # ruleid: python-tls-verification-disabled
    session.verify = False
    ctx = ssl.create_default_context()
    # ruleid: python-tls-verification-disabled
    ctx.check_hostname = False
    # ruleid: python-tls-verification-disabled
    ctx.verify_mode = ssl.CERT_NONE
    # ruleid: python-tls-verification-disabled
    other = ssl._create_unverified_context()
    # ruleid: python-weak-tls-version
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLSv1)
    # ok: python-weak-tls-version
    modern = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return client, other, legacy, modern


def client_context(verify):
    # A library honouring its caller's choice: not reported.
    if verify:
        return ssl.create_default_context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not verify:
        # ok: python-tls-verification-disabled
        ctx.check_hostname = False
    if verify is False:
        # ok: python-tls-verification-disabled
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def debug_context(debug):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if debug:
        # ruleid: python-tls-verification-disabled
        ctx.check_hostname = False
    return ctx


def ciphers(key):
    # ruleid: python-weak-cipher
    old = DES.new(key, DES.MODE_CBC)
    # ruleid: python-weak-cipher
    ecb = modes.ECB()
    # ok: python-weak-cipher
    aes = algorithms.AES(key)
    return old, ecb, aes


def keys():
    # ruleid: python-weak-key-size
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    # ok: python-weak-key-size
    fine = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return small, fine


def ssh():
    client = paramiko.SSHClient()
    # ruleid: python-ssh-host-key-not-verified
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    # ok: python-ssh-host-key-not-verified
    client.set_missing_host_key_policy(paramiko.RejectPolicy())


def read_token(token, key):
    import jwt

    # ruleid: python-jwt-verification-disabled
    claims = jwt.decode(token, options={"verify_signature": False})
    # ruleid: python-jwt-verification-disabled
    legacy = jwt.decode(token, key, algorithms=["HS256", "none"])
    # ok: python-jwt-verification-disabled
    checked = jwt.decode(token, key, algorithms=["RS256"])
    return claims, legacy, checked
