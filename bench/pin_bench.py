"""Image-pin resolve time: the local target's resolver ("oci") resolving a tag and a digest
against local docker-registry servers (anonymous, htpasswd and token auth), started the way
tests/pin/conftest.py starts them. Prints a table; run with `venv/bin/python -m bench.pin_bench`
(needs the packages scripts/system-deps.sh installs)."""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from components.gates.image_pin import load_resolver
from components.gates.oci import ResolveRequest
from components.imageref import parse_image_ref
from tests.servers.registry import OciLayout, push, start_registry

RUNS = 15
REPOSITORY = "releasegate/api"
TAG = "v1.0.0"
USERNAME_ENV, PASSWORD_ENV = "RELEASEGATE_REGISTRY_USERNAME", "RELEASEGATE_REGISTRY_PASSWORD"


def time_resolve(address: str, reference: str) -> tuple[float, float]:
    resolve = load_resolver("oci")
    request = ResolveRequest(address, REPOSITORY, parse_image_ref(reference), insecure=True)
    seconds = []
    for _ in range(RUNS):
        start = time.perf_counter()
        resolve(request)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), min(seconds)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pin-bench-") as tmp:
        work = Path(tmp)
        os.environ["DOCKER_CONFIG"] = str(work / "docker-config")  # no ambient credentials
        (work / "docker-config").mkdir()
        layout = OciLayout(work / "layout")
        digest = layout.add_image("bench", tag=TAG)["digest"]
        print(f"image-pin resolve through resolver 'oci', {RUNS} runs each")
        print(f"{'registry auth':<16}{'reference':<12}{'median ms':>12}{'min ms':>10}")
        for auth in ("none", "htpasswd", "token"):
            users = {"bench": f"pw-{secrets.token_hex(8)}"} if auth != "none" else None
            server = start_registry(work / auth, users=users, auth=auth)
            try:
                push(layout, TAG, f"{server.address}/{REPOSITORY}:{TAG}",
                     credentials=server.credentials)  # fmt: skip
                for name in (USERNAME_ENV, PASSWORD_ENV):
                    os.environ.pop(name, None)
                if server.credentials is not None:
                    os.environ[USERNAME_ENV], os.environ[PASSWORD_ENV] = server.credentials
                for label, reference in (("tag", TAG), ("digest", digest)):
                    median, fastest = time_resolve(server.address, reference)
                    print(f"{auth:<16}{label:<12}{median * 1000:>12.1f}{fastest * 1000:>10.1f}")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
