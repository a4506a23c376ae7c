# Test cases for rules/python/path-traversal.yaml.
import os
import tarfile
from pathlib import Path

from flask import Flask, request, send_file, send_from_directory
from werkzeug.utils import secure_filename

app = Flask(__name__)
UPLOADS = "/srv/uploads"


@app.route("/download")
def download():
    name = request.args["file"]
    # ruleid: python-path-traversal
    return send_file(os.path.join(UPLOADS, name))


@app.route("/read/<path:name>")
def read(name):
    # ruleid: python-path-traversal
    with open(UPLOADS + "/" + name) as handle:
        return handle.read()


@app.route("/raw")
def raw():
    target = Path(UPLOADS) / request.args["name"]
    # ruleid: python-path-traversal
    return target.read_text()


@app.route("/safe")
def safe():
    name = secure_filename(request.args["file"])
    # ok: python-path-traversal
    with open(os.path.join(UPLOADS, name)) as handle:
        data = handle.read()
    # ok: python-path-traversal
    with open(os.path.join(UPLOADS, os.path.basename(request.args["f"]))) as handle:
        data += handle.read()
    # ok: python-path-traversal
    send_from_directory(UPLOADS, request.args["file"])
    return data


def delete_upload(request):
    # ruleid: python-path-traversal
    os.remove("/srv/uploads/" + request.GET["name"])


def local_file():
    # ok: python-path-traversal
    return open("/etc/hostname").read()


def unpack(archive, dest):
    with tarfile.open(archive) as tar:
        # ruleid: python-tarfile-extractall
        tar.extractall(dest)


def unpack_safely(archive, dest):
    tar = tarfile.open(archive)
    # ok: python-tarfile-extractall
    tar.extractall(dest, filter="data")


class Handler:
    def get(self):
        # ruleid: python-path-traversal
        return open(self.request.GET["p"]).read()


from fastapi import FastAPI
from fastapi.responses import FileResponse

api = FastAPI()


@api.get("/reports/{name}")
async def report(name: str):
    # ruleid: python-path-traversal
    return FileResponse(f"/srv/reports/{name}")


@api.get("/reports/by-id/{report_id}")
async def report_by_id(report_id: int):
    # ok: python-path-traversal
    return FileResponse(f"/srv/reports/{int(report_id)}.pdf")
