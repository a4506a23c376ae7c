# Test cases for rules/python/xxe.yaml.
import xml.etree.ElementTree as ET
import xml.sax
from xml.dom import minidom

import defusedxml.ElementTree as DET
from flask import Flask, request
from lxml import etree

app = Flask(__name__)


@app.route("/import", methods=["POST"])
def import_xml():
    # ruleid: python-xml-parse-untrusted
    root = ET.fromstring(request.data)
    # ruleid: python-xml-parse-untrusted
    doc = minidom.parseString(request.get_data())
    # ok: python-xml-parse-untrusted
    safe = DET.fromstring(request.data)
    # ok: python-xml-parse-untrusted
    local = ET.parse("config.xml")
    return str((root, doc, safe, local))


def parsers():
    # ruleid: python-xml-external-entities-enabled
    unsafe = etree.XMLParser(resolve_entities=True)
    # ok: python-xml-external-entities-enabled
    hardened = etree.XMLParser(resolve_entities=False, no_network=True)
    sax = xml.sax.make_parser()
    # ruleid: python-xml-external-entities-enabled
    sax.setFeature(xml.sax.handler.feature_external_ges, True)
    return unsafe, hardened
