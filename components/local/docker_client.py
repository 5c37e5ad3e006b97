"""Docker API clients for the backends, built inside each call and closed after it.

`docker_host` is the backend settings' `docker_host` (`unix:///var/run/docker.sock`,
`unix:///run/podman/podman.sock`, `tcp://127.0.0.1:2375`); when it is None or empty the
standard environment decides (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), as the
docker CLI does. Nothing is created at import time and no client is cached, so a pickled
provider never holds a connection or credentials.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker

from components.gates.backends import BackendError
from components.naming import fit, short_hash, slug

DEFAULT_TIMEOUT_SECONDS = 60
"""Per-request HTTP timeout for ordinary engine calls (a wait passes its own)."""


def describe_host(docker_host: str | None) -> str:
    """The engine address a message should name."""
    return docker_host or os.environ.get("DOCKER_HOST") or "the default Docker socket"


def make_client(docker_host: str | None = None, timeout: int = DEFAULT_TIMEOUT_SECONDS) -> Any:
    """A new `docker.DockerClient`; BackendError (saying how to fix it) when unreachable."""
    try:
        if docker_host:
            return docker.DockerClient(base_url=docker_host, timeout=timeout)
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise BackendError(
            f"cannot reach the Docker engine at {describe_host(docker_host)}: {exc}. "
            "Start the engine (Docker, or `podman system service`) or point "
            "`releasegate:local.dockerHost` / DOCKER_HOST at it, then run `pulumi up` again."
        ) from exc


@contextmanager
def connect(
    docker_host: str | None = None, timeout: int = DEFAULT_TIMEOUT_SECONDS
) -> Iterator[Any]:
    """`with connect(host) as client:`; the client is closed when the block ends."""
    client = make_client(docker_host, timeout)
    try:
        yield client
    finally:
        client.close()


_NAME_MAX = 63


def docker_name(text: str) -> str:
    """A valid container name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`) derived from `text`.

    Other characters become `-`, runs of `-` collapse, the result starts with an alphanumeric
    and is at most 63 characters (long names keep a short hash of the full text so two long
    releases never collide).
    """
    cleaned = slug(
        text,
        drop=r"[^a-zA-Z0-9_.-]",
        lower=False,
        squeeze=True,
        strip="-_.",
        fallback="releasegate",
    )
    if len(cleaned) > _NAME_MAX:
        cleaned = fit(cleaned, _NAME_MAX, short_hash(text, 8), strip="-_.")
    return cleaned
