"""The web front end: ready when it can reach the API."""

import json
import os
import urllib.request

from sampleapp import version
from sampleapp.httpserver import as_json, serve

PAGE = """<!doctype html><title>releasegate sample</title>
<h1>releasegate sample app</h1><p>web {version}, api {api}</p>"""


def api_version() -> str | None:
    url = os.environ.get("API_URL", "http://localhost:8000") + "/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - fixed scheme
            return json.load(response).get("version")
    except OSError:
        return None


def ready() -> tuple[int, str, bytes]:
    api = api_version()
    return as_json(200 if api else 503, {"status": "ok" if api else "api unreachable",
                                         "version": version(), "api": api})


def page() -> tuple[int, str, bytes]:
    body = PAGE.format(version=version(), api=api_version() or "unreachable")
    return 200, "text/html; charset=utf-8", body.encode()


def main() -> int:
    return serve({"/": page, "/api/health/ready": ready})
