"""Runs a migration as one container on a Docker engine (Docker or podman's Docker API).

Success is the container's exit code 0 within the request's timeout, read from the engine's
`wait`: a fast no-op migration that exits before anyone looks is still a success, because
nothing here depends on having seen the container running.

Secrets reach the container only as files: `secret_files` (path -> content) are written with
`put_archive` into the created container before it starts, never passed as environment. The
container is always removed afterwards (success, failure or timeout); a leftover container
of the same name from a crashed earlier run is removed before the new one is created.

Backend settings: `docker_host` (None: the environment decides), `network` (the network the
container joins, so it reaches the database by name), optional `stop_grace_seconds` (how long a
timed-out run gets after SIGTERM before SIGKILL, default 5).
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterable, Mapping
from typing import Any

import docker
import requests

from components.gates.backends import (
    BackendError,
    MigrationRequest,
    MigrationResult,
    MigrationTimeout,
)
from components.gates.provider_base import utc_now
from components.gates.redact import redact
from components.local.backend_settings import DockerMigrationSettings
from components.local.docker_client import connect, describe_host, docker_name

LOG_TAIL_LINES = 50
DEFAULT_STOP_GRACE_SECONDS = 5
SECRET_FILE_MODE = 0o444
"""Readable by the image's (possibly non-root) user; the file exists only in this container."""


def secret_files_archive(secret_files: Mapping[str, str]) -> bytes:
    """A tar of `secret_files` (absolute path -> content) to extract at `/` in the container.

    Only file entries: the engine creates missing parent folders and existing ones keep their
    ownership and mode.
    """
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in sorted(secret_files.items()):
            if not path.startswith("/") or path.endswith("/") or ".." in path.split("/"):
                raise BackendError(f"secret file path {path!r} must be an absolute file path")
            data = content.encode("utf-8")
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = SECRET_FILE_MODE
            info.mtime = now
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def log_tail(container: Any, secrets: Iterable[str], lines: int = LOG_TAIL_LINES) -> str:
    """The container's last `lines` lines of stdout+stderr, redacted; "" when unreadable."""
    try:
        raw: bytes = container.logs(stdout=True, stderr=True, tail=lines)
    except docker.errors.DockerException:
        return ""
    text = raw.decode("utf-8", errors="replace").rstrip("\n")
    return redact("\n".join(text.splitlines()[-lines:]), secrets=secrets)


class DockerMigrationBackend:
    """`components.gates.backends.MigrationBackend` for the local Docker target (the migration
    and the verify jobs)."""

    def run(self, request: MigrationRequest) -> MigrationResult:
        settings = DockerMigrationSettings.of(request.settings)
        host, network = settings.docker_host or None, settings.network or None
        grace = settings.stop_grace_seconds
        grace = DEFAULT_STOP_GRACE_SECONDS if grace is None else grace
        secrets = [*request.secret_files.values(), *request.known_secrets]
        name = docker_name(request.name)
        try:
            with connect(host) as client:
                _remove_leftover(client, name)
                _ensure_image(client, request.image, secrets, request.purpose)
                container = client.containers.create(
                    request.image,
                    command=list(request.command) or None,
                    name=name,
                    environment=dict(request.env),
                    network=network,
                    labels={"releasegate.role": request.purpose, "releasegate.run": name},
                )
                try:
                    return _run_to_completion(container, request, grace, secrets)
                finally:
                    _remove(container)
        except BackendError:
            raise
        except docker.errors.DockerException as exc:
            raise BackendError(
                redact(
                    f"the Docker engine at {describe_host(host)} refused the {request.purpose} run "
                    f"{name} ({request.image}): {exc}",
                    secrets=secrets,
                )
            ) from exc


def _run_to_completion(
    container: Any, request: MigrationRequest, grace: int, secrets: list[str]
) -> MigrationResult:
    if request.secret_files and not container.put_archive(
        "/", secret_files_archive(request.secret_files)
    ):
        raise BackendError(f"could not write the secret files into {container.name}")
    started_at = utc_now()
    try:
        container.start()
    except docker.errors.APIError as exc:
        tail = log_tail(container, secrets)
        raise BackendError(
            redact(
                f"the {request.purpose} container {container.name} did not start: {exc}", secrets
            )
            + (f"\n{tail}" if tail else "")
        ) from exc
    timeout = float(request.timeout_seconds)
    try:
        outcome: dict[str, Any] = container.wait(timeout=timeout)
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
        # docker-py turns a read timeout on a unix socket into a ConnectionError.
        container.reload()
        state = container.attrs.get("State") or {}
        if state.get("Status") != "exited":
            tail = log_tail(container, secrets)
            try:
                container.stop(timeout=grace)
            except docker.errors.DockerException:
                container.kill()
            raise MigrationTimeout(
                f"the {request.purpose} container {container.name} ({request.image}) did not exit "
                f"within {timeout:g}s; it was stopped and removed",
                tail,
            ) from exc
        outcome = {"StatusCode": state.get("ExitCode", -1), "Error": state.get("Error") or None}
    finished_at = utc_now()
    tail = log_tail(container, secrets)
    error = outcome.get("Error")
    if error:
        message = error.get("Message") if isinstance(error, dict) else error
        raise BackendError(
            redact(f"waiting for {container.name} failed: {message}", secrets)
            + (f"\n{tail}" if tail else "")
        )
    return MigrationResult(
        exit_code=int(outcome.get("StatusCode", -1)),
        log_tail=tail,
        started_at=started_at,
        finished_at=finished_at,
    )


def _remove_leftover(client: Any, name: str) -> None:
    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        return


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError:
        # Left for the next run, which removes a leftover of the same name first.
        return


def _ensure_image(client: Any, image: str, secrets: list[str], purpose: str) -> None:
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(image)
    except docker.errors.DockerException as exc:
        raise BackendError(
            redact(
                f"cannot pull the {'migrations' if purpose == 'migration' else purpose} image "
                f"{image}: {exc}. Check that the pinned "
                "digest exists in the registry and that the engine can reach and log in to it.",
                secrets,
            )
        ) from exc
