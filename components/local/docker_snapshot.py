"""Pre-migration snapshots of the local target's PostgreSQL, and the command that restores one.

A snapshot is a `pg_dump -Fc` custom-format archive written by `pg_dump` running inside the
live database container (`exec`), into the snapshots volume mounted at `directory`
(`/snapshots`): `<directory>/<name>.dump`. The dump is written to `<name>.dump.partial` and
renamed when complete, so a failed dump never leaves a file that looks like a snapshot.

Restoring never touches the live database: `restore_command` is what the init script of a
*new* database container (fresh data volume, same snapshots volume) runs, once, when the
postgres image initialises that empty cluster.

Backend settings: `docker_host` (None: the environment decides), `container` (the database
container's name), `database`, `user`, `directory` (default `/snapshots`).
"""

from __future__ import annotations

import re
from typing import Any

import docker

from components.gates.backends import BackendError, SnapshotRecord, SnapshotRequest
from components.gates.provider_base import utc_now
from components.gates.redact import redact
from components.local.backend_settings import DockerSnapshotSettings
from components.local.docker_client import connect, describe_host

SNAPSHOTS_DIRECTORY = "/snapshots"
DUMP_SUFFIX = ".dump"
_SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _snapshot_file_name(snapshot: str) -> str:
    name = snapshot.removesuffix(DUMP_SUFFIX)
    if not _SNAPSHOT_NAME.match(name):
        raise ValueError(
            f"snapshot name {snapshot!r} is not a snapshot file name "
            "(letters, digits, '.', '_' and '-'; no folders)"
        )
    return name + DUMP_SUFFIX


def snapshot_path(snapshot: str, directory: str = SNAPSHOTS_DIRECTORY) -> str:
    """Where snapshot `snapshot` lives inside a database container: `<directory>/<name>.dump`."""
    return f"{directory.rstrip('/') or ''}/{_snapshot_file_name(snapshot)}"


def restore_command(
    snapshot: str, *, database: str, user: str, directory: str = SNAPSHOTS_DIRECTORY
) -> list[str]:
    """argv that restores snapshot `snapshot` into the (new, empty) database `database`.

    Meant for a new database container's `/docker-entrypoint-initdb.d/` script: the postgres
    image runs it once, as the `postgres` OS user, after creating `POSTGRES_USER` and
    `POSTGRES_DB` and while a socket-only temporary server is up (local connections trust), so
    no host or password is needed. `snapshot` is the snapshot name (`pre-migrate-...`, with or
    without `.dump`); the snapshots volume must be mounted at `directory`.

    `--single-transaction --exit-on-error`: the restore is all or nothing, and a failure stops
    the init script (`set -e`), so the new container fails instead of serving a partial copy.
    `--no-owner --no-privileges`: objects belong to `user`, and grants to roles that do not
    exist in the new cluster cannot abort the restore.
    """
    return [
        "pg_restore",
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        "--username", user,
        "--dbname", database,
        snapshot_path(snapshot, directory),
    ]  # fmt: skip


class DockerSnapshotBackend:
    """`components.gates.backends.SnapshotBackend` for the local Docker target."""

    def take(self, request: SnapshotRequest) -> SnapshotRecord:
        settings = DockerSnapshotSettings.of(request.settings)
        host = settings.docker_host or None
        name, database, user = settings.container, settings.database, settings.user
        directory = settings.directory or SNAPSHOTS_DIRECTORY
        try:
            path = snapshot_path(request.name, directory)
        except ValueError as exc:
            raise BackendError(str(exc)) from exc
        try:
            with connect(host) as client:
                container = _running_container(client, name, host)
                _require_mount(container, directory)
                size = _dump(container, database, user, path)
        except BackendError:
            raise
        except docker.errors.DockerException as exc:
            raise BackendError(
                redact(
                    f"snapshot {request.name} of {name} failed at the engine "
                    f"{describe_host(host)}: {exc}"
                )
            ) from exc
        return SnapshotRecord(
            name=request.name, location=f"{name}:{path}", size_bytes=size, taken_at=utc_now()
        )


def _running_container(client: Any, name: str, host: str | None) -> Any:
    try:
        container = client.containers.get(name)
    except docker.errors.NotFound as exc:
        raise BackendError(
            f"the database container {name} was not found on {describe_host(host)}; "
            "the snapshot needs the running database"
        ) from exc
    state = container.attrs.get("State") or {}
    if not state.get("Running") or state.get("Restarting"):
        raise BackendError(
            f"the database container {name} is not running (status {state.get('Status')}, "
            f"exit code {state.get('ExitCode')}); the snapshot needs the running database"
        )
    return container


def _require_mount(container: Any, directory: str) -> None:
    mounts = container.attrs.get("Mounts") or []
    wanted = directory.rstrip("/") or "/"
    if not any((m.get("Destination") or "").rstrip("/") == wanted for m in mounts):
        raise BackendError(
            f"no volume is mounted at {directory} in the database container {container.name}; "
            "a snapshot written there would disappear with the container"
        )


def _exec(container: Any, argv: list[str]) -> tuple[int, str]:
    code, output = container.exec_run(argv, stdout=True, stderr=True)
    text = (output or b"").decode("utf-8", errors="replace").strip()
    return int(code if code is not None else -1), redact(text)


def _dump(container: Any, database: str, user: str, path: str) -> int:
    partial = f"{path}.partial"
    code, output = _exec(container, ["pg_dump", "-Fc", "-U", user, "-f", partial, database])
    if code != 0:
        _exec(container, ["rm", "-f", partial])
        raise BackendError(
            f"pg_dump of database {database!r} as {user!r} in {container.name} failed "
            f"(exit {code}): {output or 'no output'}. No snapshot was taken and the migration "
            "did not run; fix the snapshot settings (database, user, container) and run "
            "`pulumi up` again."
        )
    code, output = _exec(container, ["mv", "-f", partial, path])
    if code != 0:
        raise BackendError(f"could not move {partial} to {path} in {container.name}: {output}")
    code, output = _exec(container, ["stat", "-c", "%s", path])
    size = int(output) if code == 0 and output.isdigit() else 0
    if size <= 0:
        raise BackendError(
            f"the snapshot {path} in {container.name} is missing or empty "
            f"(stat exit {code}: {output or 'no output'})"
        )
    return size
