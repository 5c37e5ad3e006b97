"""Fixtures for the Docker-API backend tests: a real `podman system service` for the session.

The engine, its test images (busybox, and PostgreSQL built from the host's binaries) and a
network start once per session; teardown removes every container, volume and network whose
name starts with the session's prefix, then stops the service. A missing binary fails the
fixture naming the apt package to install (never a skip).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.podman import (
    PodmanEngine,
    busybox_image,
    digest_ref,
    postgres_image,
    start_podman,
)


@pytest.fixture(scope="session")
def engine() -> Iterator[PodmanEngine]:
    # A short folder in /tmp: unix socket paths are limited to 108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="rg-podman-", dir="/tmp"))
    started = start_podman(workdir, name_prefix=f"rgtest-{secrets.token_hex(3)}-")
    try:
        yield started
    finally:
        try:
            started.cleanup()
        finally:
            started.stop()
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class ImageSet:
    busybox: str
    """`localhost/releasegate-test/busybox@sha256:...`: the pinned form providers take."""
    busybox_v2: str
    """A second busybox image (one file differs), so a different digest."""
    busybox_name: str
    postgres: str
    build_seconds: float


@pytest.fixture(scope="session")
def images(engine: PodmanEngine) -> ImageSet:
    began = time.monotonic()
    bb = busybox_image(engine)
    bb2 = busybox_image(engine, marker="v2")
    pg = postgres_image(engine)
    return ImageSet(
        busybox=digest_ref(engine, bb),
        busybox_v2=digest_ref(engine, bb2),
        busybox_name=bb,
        postgres=pg,
        build_seconds=time.monotonic() - began,
    )


@pytest.fixture(scope="session")
def client(engine: PodmanEngine) -> Any:
    return engine.client()


@pytest.fixture(scope="session")
def network(engine: PodmanEngine, client: Any) -> str:
    name = f"{engine.name_prefix}net"
    client.networks.create(name)
    return name


@pytest.fixture
def unique(engine: PodmanEngine) -> Callable[[str], str]:
    """`unique("db")` -> `<session prefix>db-<hex>`: names teardown will clean up."""

    def make(stem: str) -> str:
        return f"{engine.name_prefix}{stem}-{secrets.token_hex(3)}"

    return make


def containers_named(client: Any, prefix: str) -> list[str]:
    # ignore_removed: a container removed between the list and its inspect is not an error.
    containers = client.containers.list(all=True, ignore_removed=True)
    return [c.name for c in containers if c.name.startswith(prefix)]
