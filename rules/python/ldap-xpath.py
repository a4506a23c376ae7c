# Test cases for rules/python/ldap-xpath.yaml.
import re

import ldap
from flask import Flask, request
from ldap.filter import escape_filter_chars
from ldap3 import Connection
from lxml import etree

app = Flask(__name__)
conn = ldap.initialize("ldap://directory.example.com")
TREE = etree.parse("users.xml")


@app.route("/lookup")
def lookup():
    user = request.args["user"]
    # ruleid: python-ldap-injection
    conn.search_s("dc=example,dc=com", ldap.SCOPE_SUBTREE, "(uid=" + user + ")")
    # ok: python-ldap-injection
    conn.search_s("dc=example,dc=com", ldap.SCOPE_SUBTREE, "(uid=%s)" % escape_filter_chars(user))
    return "ok"


@app.route("/lookup3")
def lookup3():
    c = Connection("ldap://directory.example.com")
    search_filter = f"(&(objectClass=person)(mail={request.args['mail']}))"
    # ruleid: python-ldap-injection
    c.search("dc=example,dc=com", search_filter)
    # ok: python-ldap-injection
    re.search(r"\d+", request.args["mail"])
    # ok: python-ldap-injection
    c.search("dc=example,dc=com", "(objectClass=person)")
    return "ok"


@app.route("/user")
def find_user():
    name = request.args["name"]
    # ruleid: python-xpath-injection
    found = TREE.xpath("//user[@name='" + name + "']")
    # ok: python-xpath-injection
    also = TREE.xpath("//user[@name=$name]", name=name)
    # ok: python-xpath-injection
    first = TREE.xpath("//user[1]")
    return str((found, also, first))
