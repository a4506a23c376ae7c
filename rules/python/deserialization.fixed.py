# Test cases for rules/python/deserialization.yaml.
import json
import marshal
import pickle

import jsonpickle
import torch
import yaml
from flask import Flask, request

app = Flask(__name__)


@app.route("/restore", methods=["POST"])
def restore():
    # ruleid: python-deserialization-of-request-data
    state = pickle.loads(request.data)
    blob = request.files["state"].read()
    # ruleid: python-deserialization-of-request-data
    obj = jsonpickle.decode(blob)
    # ruleid: python-deserialization-of-request-data
    conf = yaml.load(request.get_data(), Loader=yaml.Loader)
    # ok: python-deserialization-of-request-data
    safe = yaml.safe_load(request.get_data())
    # ok: python-deserialization-of-request-data
    data = json.loads(request.data)
    return str((state, obj, conf, safe, data))


def load_cache(path):
    with open(path, "rb") as handle:
        # ruleid: python-insecure-deserialization
        return pickle.load(handle)


def read_code(raw):
    # ruleid: python-insecure-deserialization
    return marshal.loads(raw)


def read_config(text):
    # ruleid: python-yaml-unsafe-load
    unsafe = yaml.safe_load(text)
    # ruleid: python-insecure-deserialization
    unsafe_too = yaml.unsafe_load(text)
    # ok: python-insecure-deserialization, python-yaml-unsafe-load
    safe = yaml.load(text, Loader=yaml.SafeLoader)
    # ok: python-insecure-deserialization, python-yaml-unsafe-load
    also_safe = yaml.safe_load(text)
    # ok: python-yaml-unsafe-load
    full = yaml.load(text, Loader=yaml.FullLoader)
    return unsafe, unsafe_too, safe, also_safe, full


def read_documents(path):
    with open(path) as handle:
        # ruleid: python-yaml-unsafe-load
        documents = list(yaml.safe_load_all(handle))
    # ruleid: python-yaml-unsafe-load
    first = yaml.safe_load(documents[0])
    # ruleid: python-yaml-unsafe-load
    settings = yaml.safe_load(open(path).read())
    return documents, first, settings


def load_model(path):
    # ruleid: python-insecure-deserialization
    torch.load(path)
    # ok: python-insecure-deserialization
    torch.load(path, weights_only=True)
