"""The local cache as a container on a Docker-API engine (podman), created with exactly the
inputs `LocalCache` registers (name, command, config upload with its owner and mode, data
volume, health check, network), from a Redis image built from the host's Debian binaries.

A service container on the same network, given REDIS_URL as a file the way the local target
delivers it, connects by the URL (host = the cache container's name); a client without the
password is refused; the health check passes; and a replaced container (what a new image
does) finds the data in the volume.
"""

from __future__ import annotations

import io
import secrets
import tarfile
import time
from typing import Any

import pytest

from components.local.cache import CONFIG_FILE, DATA_DIR
from components.local.service import secret_file
from tests.cache.component import Built, build
from tests.servers.podman import PodmanEngine
from tests.servers.redis_image import redis_image

pytestmark = [pytest.mark.servers, pytest.mark.timeout(300)]


def _archive(path: str, content: str, mode: int, uid: int = 0) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = content.encode()
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, uid
        info.mtime = int(time.time())
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _nanoseconds(duration: str) -> int:
    assert duration.endswith("s"), duration
    return int(float(duration[:-1]) * 1_000_000_000)


def start_cache(client: Any, image: str, built: Built) -> Any:
    """The container as pulumi-docker would create it from the component's inputs."""
    inputs = built.container
    [volume] = inputs["volumes"]
    [network] = inputs["networksAdvanced"]
    check = inputs["healthcheck"]
    container = client.containers.create(
        image,
        name=inputs["name"],
        command=inputs["command"],
        volumes={volume["volumeName"]: {"bind": volume["containerPath"], "mode": "rw"}},
        network=network["name"],
        healthcheck={"test": check["tests"], "interval": _nanoseconds(check["interval"]),
                     "timeout": _nanoseconds(check["timeout"]), "retries": int(check["retries"])},
    )  # fmt: skip
    [upload] = inputs["uploads"]
    archive = _archive(upload["file"], upload["content"], int(upload["permissions"], 8),
                       int(upload["owner"]))  # fmt: skip
    assert container.put_archive("/", archive)
    container.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, output = container.exec_run(["redis-cli", "ping"])
        if b"NOAUTH" in output:  # up, and asking for the password
            return container
        container.reload()
        assert container.status in ("created", "running"), container.logs().decode()
        time.sleep(0.2)
    pytest.fail(f"cache did not answer: {container.logs().decode(errors='replace')}")


@pytest.fixture(scope="module")
def built(engine: PodmanEngine, network: str) -> Built:
    return build("redis", prefix=engine.name_prefix.rstrip("-"), network=network)


@pytest.fixture(scope="module")
def image(engine: PodmanEngine) -> str:
    return redis_image(engine)


def start_service(client: Any, image: str, built: Built, cache: Any) -> Any:
    """A service that lists REDIS_URL: the URL as a file, REDIS_URL_FILE pointing at it.

    Docker resolves a container's name on a user-defined network (its embedded DNS); podman
    here runs CNI without the dnsname plugin, so the name is mapped to the cache's address in
    the service's /etc/hosts, which is what that DNS answer would be."""
    [network] = built.container["networksAdvanced"]
    cache.reload()
    address = cache.attrs["NetworkSettings"]["Networks"][network["name"]]["IPAddress"]
    container = client.containers.create(
        image, name=f"{built.container['name']}-client-{secrets.token_hex(2)}",
        command=["sleep", "600"], network=network["name"],
        environment={"REDIS_URL_FILE": secret_file("REDIS_URL")},
        extra_hosts={built.container["name"]: address},
    )  # fmt: skip
    assert container.put_archive("/", _archive(secret_file("REDIS_URL"), built.url, 0o444))
    container.start()
    return container


def redis(service: Any, *args: str) -> str:
    """redis-cli in the service container, connecting by the URL in its secret file."""
    script = 'redis-cli --no-auth-warning -u "$(cat "$REDIS_URL_FILE")" "$@"'
    code, output = service.exec_run(["sh", "-c", script, "redis", *args])
    text: str = output.decode(errors="replace").strip()
    assert code == 0, text
    return text


def test_the_cache_container_serves_only_clients_with_the_password(
    client: Any, image: str, built: Built, engine: PodmanEngine
) -> None:
    cache = start_cache(client, image, built)
    service = start_service(client, image, built, cache)
    try:
        name = built.container["name"]
        _, output = service.exec_run(["redis-cli", "-h", name, "SET", "order:1", "paid"])
        assert b"NOAUTH" in output, output
        assert redis(service, "SET", "order:1", "paid") == "OK"
        assert redis(service, "CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]
        assert redis(service, "CONFIG", "GET", "dir").split() == ["dir", DATA_DIR]
        # The config file is the server user's own, readable by it only.
        _, output = cache.exec_run(["stat", "-c", "%u %a", CONFIG_FILE])
        assert output.decode().split() == ["999", "400"], output
        health = engine.podman_result("healthcheck", "run", name)
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        service.remove(force=True)
        cache.stop(timeout=10)  # SIGTERM: the server fsyncs its append-only file
        cache.remove()

    # A new image replaces the container; the volume keeps the data.
    again = start_cache(client, image, built)
    service = start_service(client, image, built, again)
    try:
        assert redis(service, "GET", "order:1") == "paid"
        _, output = again.exec_run(["ls", f"{DATA_DIR}/appendonlydir"])
        assert b"appendonly.aof.manifest" in output, output
    finally:
        service.remove(force=True)
        again.remove(force=True)
