"""PreMigrationSnapshot against real PostgreSQL containers on a Docker-API engine (podman):
pg_dump into the snapshots volume, restore into a second database, delete keeps the file."""

from __future__ import annotations

import base64
import io
import re
import shlex
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dill
import pulumi
import pytest
from pulumi.output import UNKNOWN as UNKNOWN_OBJECT
from pulumi.runtime import rpc

from components.gates.backends import BackendError, SnapshotRequest
from components.gates.snapshot import (
    PreMigrationSnapshot,
    PreMigrationSnapshotArgs,
    PreMigrationSnapshotProvider,
    SnapshotFailedError,
    snapshot_name,
)
from components.local.docker_snapshot import (
    DockerSnapshotBackend,
    restore_command,
    snapshot_path,
)
from tests.docker.conftest import ImageSet
from tests.mocks import record
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers, pytest.mark.timeout(180)]

USER = "app"
DATABASE = "appdb"
PASSWORD = "db-pass-51f0c2"
PASSWORD_FILE = "/run/secrets/POSTGRES_PASSWORD"
SNAPSHOTS = "/snapshots"
ROWS = [(1, "alice", 10.50), (2, "bob", 7.25), (3, "carol, o'hara", 99.00)]


def _files_archive(files: dict[str, tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, (content, mode) in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def start_postgres(
    client: Any, image: str, name: str, volume: str, init_scripts: dict[str, str] | None = None
) -> Any:
    """A database container like the local target's: password file, snapshots volume."""
    container = client.containers.create(
        image,
        name=name,
        environment={
            "POSTGRES_USER": USER,
            "POSTGRES_DB": DATABASE,
            "POSTGRES_PASSWORD_FILE": PASSWORD_FILE,
        },
        volumes={volume: {"bind": SNAPSHOTS, "mode": "rw"}},
    )
    files = {PASSWORD_FILE: (PASSWORD, 0o444)}
    for script_name, text in (init_scripts or {}).items():
        files[f"/docker-entrypoint-initdb.d/{script_name}"] = (text, 0o755)
    assert container.put_archive("/", _files_archive(files))
    container.start()
    wait_ready(container)
    return container


def wait_ready(container: Any, timeout: float = 90) -> None:
    """Ready = accepting TCP connections: the init-time server listens on the socket only."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status not in ("created", "running"):
            logs = container.logs().decode(errors="replace")
            pytest.fail(f"database {container.name} stopped ({container.status}):\n{logs}")
        code, _ = container.exec_run(["pg_isready", "-h", "127.0.0.1", "-U", USER, "-d", DATABASE])
        if code == 0:
            return
        time.sleep(0.3)
    logs = container.logs().decode(errors="replace")
    pytest.fail(f"database {container.name} not ready within {timeout}s:\n{logs}")


def psql(container: Any, sql: str) -> str:
    code, output = container.exec_run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-At", "-U", USER, "-d", DATABASE, "-c", sql]
    )
    text: str = output.decode(errors="replace")
    assert code == 0, f"psql failed ({code}): {text}"
    return text.strip()


def volume_dir(client: Any, volume: str) -> Path:
    return Path(client.volumes.get(volume).attrs["Mountpoint"])


@pytest.fixture(scope="module")
def snapshots_volume(engine: PodmanEngine, client: Any) -> str:
    name = f"{engine.name_prefix}snapshots"
    client.volumes.create(name)
    return name


@pytest.fixture(scope="module")
def database(
    engine: PodmanEngine, client: Any, images: ImageSet, snapshots_volume: str
) -> Iterator[Any]:
    container = start_postgres(
        client, images.postgres, f"{engine.name_prefix}db1", snapshots_volume
    )
    psql(container, "CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(8,2))")
    values = ", ".join(f"({i}, '{c.replace(chr(39), chr(39) * 2)}', {t})" for i, c, t in ROWS)
    psql(container, f"INSERT INTO orders VALUES {values}")  # noqa: S608 - fixed test rows
    yield container
    container.remove(force=True)


def backend_settings(engine: PodmanEngine, container: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "kind": "docker",
        "docker_host": engine.base_url,
        "container": container,
        "database": DATABASE,
        "user": USER,
        "directory": SNAPSHOTS,
    }
    settings.update(overrides)
    return settings


def create_snapshot(engine: PodmanEngine, database: Any, release: str) -> dict[str, Any]:
    news = {
        "release": release,
        "trigger": "registry.example/app/migrate@sha256:" + "a" * 64,
        "backend": backend_settings(engine, database.name),
    }
    provider = PreMigrationSnapshotProvider()
    checked = provider.check({}, news)
    assert checked.failures == []
    result = provider.create(checked.inputs)
    assert result.outs is not None
    assert result.id == result.outs["snapshot_name"]
    return result.outs


# ---------------------------------------------------------------------------------------------
# Against real databases
# ---------------------------------------------------------------------------------------------
def test_snapshot_is_written_to_the_snapshots_volume(
    engine: PodmanEngine, client: Any, database: Any, snapshots_volume: str
) -> None:
    outs = create_snapshot(engine, database, "v1.4.2")
    name = outs["snapshot_name"]
    assert re.fullmatch(r"pre-migrate-v1-4-2-\d{14}", name), name
    assert outs["location"] == f"{database.name}:{SNAPSHOTS}/{name}.dump"
    assert outs["size_bytes"] > 0
    assert outs["release"] == "v1.4.2" and outs["taken_at"].endswith("Z")
    on_disk = volume_dir(client, snapshots_volume) / f"{name}.dump"
    assert on_disk.stat().st_size == outs["size_bytes"]
    assert on_disk.read_bytes()[:5] == b"PGDMP", "pg_dump custom format"
    assert not list(volume_dir(client, snapshots_volume).glob("*.partial"))


def test_delete_leaves_the_snapshot_in_place(
    engine: PodmanEngine, client: Any, database: Any, snapshots_volume: str
) -> None:
    outs = create_snapshot(engine, database, "v1.5.0")
    on_disk = volume_dir(client, snapshots_volume) / f"{outs['snapshot_name']}.dump"
    PreMigrationSnapshotProvider().delete(outs["snapshot_name"], outs)
    assert on_disk.is_file() and on_disk.stat().st_size == outs["size_bytes"]


def test_snapshot_restores_into_a_new_database(
    engine: PodmanEngine, client: Any, images: ImageSet, database: Any, snapshots_volume: str
) -> None:
    outs = create_snapshot(engine, database, "v1.6.0")
    # Written after the snapshot: the restored copy must not have it.
    psql(database, "INSERT INTO orders VALUES (99, 'after-snapshot', 1)")
    try:
        argv = restore_command(outs["snapshot_name"], database=DATABASE, user=USER)
        script = "#!/bin/sh\nset -e\n" + shlex.join(argv) + "\n"  # as components.local.database
        restored = start_postgres(
            client,
            images.postgres,
            f"{engine.name_prefix}db2",
            snapshots_volume,
            init_scripts={"50-restore-snapshot.sh": script},
        )
        try:
            query = "SELECT id, customer, total FROM orders ORDER BY id"
            expected = "\n".join(f"{i}|{c}|{t:.2f}" for i, c, t in ROWS)
            assert psql(restored, query) == expected
            assert psql(database, "SELECT count(*) FROM orders") == str(len(ROWS) + 1)
            owner = psql(restored, "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'")
            assert owner == USER
        finally:
            restored.remove(force=True)
    finally:
        psql(database, "DELETE FROM orders WHERE id = 99")


def test_failing_pg_dump_gives_a_clear_error(
    engine: PodmanEngine, client: Any, database: Any, snapshots_volume: str
) -> None:
    news = {
        "release": "v1.7.0",
        "trigger": "registry.example/app/migrate@sha256:" + "b" * 64,
        "backend": backend_settings(engine, database.name, database="no_such_db"),
    }
    with pytest.raises(SnapshotFailedError) as failure:
        PreMigrationSnapshotProvider().create(news)
    message = str(failure.value)
    assert "pg_dump of database 'no_such_db'" in message
    assert '"no_such_db" does not exist' in message
    assert "The migration did not run" in message
    leftovers = [
        p.name for p in volume_dir(client, snapshots_volume).iterdir() if "v1-7-0" in p.name
    ]
    assert leftovers == [], "a failed dump must leave no file behind"


def test_missing_database_container_is_a_clear_error(engine: PodmanEngine) -> None:
    request = SnapshotRequest(
        name="pre-migrate-v1-8-0-20260101000000",
        settings=backend_settings(engine, f"{engine.name_prefix}no-such-db"),
    )
    with pytest.raises(BackendError, match=r"database container .*no-such-db was not found"):
        DockerSnapshotBackend().take(request)


def test_snapshot_refuses_a_directory_without_a_volume(engine: PodmanEngine, database: Any) -> None:
    request = SnapshotRequest(
        name="pre-migrate-v1-9-0-20260101000000",
        settings=backend_settings(engine, database.name, directory="/var/tmp"),
    )
    with pytest.raises(BackendError, match="no volume is mounted at /var/tmp"):
        DockerSnapshotBackend().take(request)


# ---------------------------------------------------------------------------------------------
# Names, restore helper, diff and check (no engine needed)
# ---------------------------------------------------------------------------------------------
def test_snapshot_names_are_safe_everywhere() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert snapshot_name("v1.4.2", when) == "pre-migrate-v1-4-2-20260304050607"
    digest = snapshot_name("sha256:" + "ab" * 32, when)
    assert re.fullmatch(r"pre-migrate-[a-z0-9]+(-[a-z0-9]+)*-20260304050607", digest)
    assert len(digest) <= 12 + 40 + 15
    assert snapshot_name("sha256:" + "ab" * 32, when) != snapshot_name("sha256:" + "cd" * 32, when)


def test_restore_command_is_an_all_or_nothing_pg_restore() -> None:
    assert restore_command("pre-migrate-v1-20260101000000", database="shop", user="app") == [
        "pg_restore", "--single-transaction", "--exit-on-error", "--no-owner",
        "--no-privileges", "--username", "app", "--dbname", "shop",
        "/snapshots/pre-migrate-v1-20260101000000.dump",
    ]  # fmt: skip
    assert snapshot_path("x.dump", "/backups/") == "/backups/x.dump"
    with pytest.raises(ValueError, match="not a snapshot file name"):
        restore_command("../etc/passwd", database="shop", user="app")


def _state(**overrides: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "release": "v1",
        "trigger": "registry.example/app/migrate@sha256:" + "a" * 64,
        "backend": {
            "kind": "docker",
            "container": "app-db",
            "database": "app",
            "user": "app",
            "directory": SNAPSHOTS,
            "docker_host": None,
        },
        "snapshot_name": "pre-migrate-v1-20260101000000",
        "location": "app-db:/snapshots/pre-migrate-v1-20260101000000.dump",
        "size_bytes": 1234,
        "taken_at": "2026-01-01T00:00:01Z",
    }
    state.update(overrides)
    return state


def _news(state: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    news = {key: state[key] for key in ("release", "trigger", "backend")}
    news["__provider"] = "serialized"
    news.update(overrides)
    return news


def test_a_new_migrations_image_replaces_the_snapshot() -> None:
    state = _state()
    diff = PreMigrationSnapshotProvider().diff(
        "s", state, _news(state, trigger="registry.example/app/migrate@sha256:" + "b" * 64)
    )
    assert diff.changes is True and diff.replaces == ["trigger"]
    assert diff.delete_before_replace is False


@pytest.mark.parametrize(
    "change",
    [
        {"release": "v1-retagged"},
        {
            "backend": {
                "kind": "docker",
                "container": "app-db-restored-x",
                "database": "app",
                "user": "app",
                "directory": SNAPSHOTS,
                "docker_host": None,
            }
        },
    ],
    ids=["release", "backend"],
)
def test_nothing_else_takes_a_new_snapshot(change: dict[str, Any]) -> None:
    state = _state()
    assert PreMigrationSnapshotProvider().diff("s", state, _news(state, **change)).changes is False


def test_check_names_bad_inputs_and_tolerates_unknowns() -> None:
    provider = PreMigrationSnapshotProvider()
    bad = provider.check({}, {"release": "", "trigger": 3, "backend": {"kind": "docker"}})
    assert {f.property for f in bad.failures} == {"release", "trigger", "backend"}
    assert any("container, database, user" in f.reason for f in bad.failures)
    unknown_kind = provider.check({}, {"release": "v1", "trigger": "t", "backend": {"kind": "x"}})
    assert [f.property for f in unknown_kind.failures] == ["backend"]
    preview = provider.check(
        {},
        {
            "release": "v1",
            "trigger": rpc.UNKNOWN,
            "backend": {
                "kind": "docker",
                "container": UNKNOWN_OBJECT,
                "database": "app",
                "user": "app",
            },
        },
    )
    assert preview.failures == []
    assert (
        provider.check(
            {}, {"release": "v1", "trigger": UNKNOWN_OBJECT, "backend": rpc.UNKNOWN}
        ).failures
        == []
    )


def test_snapshot_serializes_and_registers_under_mocks() -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        snapshot = PreMigrationSnapshot(
            "pre-migration-snapshot",
            PreMigrationSnapshotArgs(
                release="v1.4.2",
                trigger="registry.example/app/migrate@sha256:" + "a" * 64,
                backend={
                    "kind": "docker",
                    "container": "app-db",
                    "database": "app",
                    "user": "app",
                    "directory": SNAPSHOTS,
                    "docker_host": None,
                },
            ),
            opts=pulumi.ResourceOptions(retain_on_delete=True),
        )
        pulumi.Output.all(snapshot.urn, snapshot.release).apply(
            lambda v: seen.update(urn=v[0], release=v[1])
        )

    recorded = record(program)
    (registered,) = [r for r in recorded.resources if r.name == "pre-migration-snapshot"]
    assert registered.typ == "pulumi-python:dynamic/gates:PreMigrationSnapshot"
    assert seen["urn"].endswith(
        "$pulumi-python:dynamic/gates:PreMigrationSnapshot::pre-migration-snapshot"
    )
    assert seen["release"] == "v1.4.2"
    serialized = base64.b64decode(registered.inputs["__provider"])
    provider = dill.loads(serialized)  # noqa: S301 - the provider this test just serialized
    assert isinstance(provider, PreMigrationSnapshotProvider)
    assert "snapshot_name" not in registered.inputs
