"""`releasegate:snapshot` through the real Pulumi CLI on a file backend, on the engine test
target (the product's Docker snapshot backend against the test's PostgreSQL container): with
`when: always` a release that re-pins only a service takes a new pre-migration snapshot before
it rolls out (and runs no migration); with `when: migrations` (the default) the same kind of
re-pin takes none."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.engine.conftest import Database, NamedStack, Servers
from tests.servers.http_app import HttpApp
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers]

STACK = "snapshots"


@dataclass(kw_only=True)
class Snapshots(NamedStack):
    app: HttpApp
    database: Database
    engine: PodmanEngine
    name_prefix: str

    def migration_history(self) -> list[Any]:
        history: list[Any] = self.resources()["migration"]["outputs"]["history"]
        return history

    def dump(self, name: str) -> os.stat_result:
        return (self.database.snapshots_dir / f"{name}.dump").stat()

    def api_created(self) -> float:
        """When the api's podman container was created (epoch seconds)."""
        container = self.engine.client().containers.get(f"{self.name_prefix}-api")
        created = str(container.attrs["Created"])  # RFC 3339, nanoseconds: cut to micro
        trimmed = re.sub(r"(\.\d{6})\d+", r"\1", created).replace("Z", "+00:00")
        return datetime.fromisoformat(trimmed).timestamp()


@pytest.fixture(scope="module")
def snapshots(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshots]:
    project = servers.project(tmp_path_factory.mktemp("snapshot-policy-engine"))
    name_prefix = f"{servers.engine.name_prefix}snap"
    config = {**servers.config(name_prefix), "releasegate:snapshot": {"when": "always"}}
    snapshots = Snapshots(project, STACK, app=servers.app, database=servers.database,
                          engine=servers.engine, name_prefix=name_prefix)  # fmt: skip
    snapshots.init(config)
    yield snapshots
    snapshots.destroy()


@pytest.mark.timeout(600)
def test_snapshot_always_takes_one_before_a_service_only_release(snapshots: Snapshots) -> None:
    snapshots.app.healthy("v1.0.0")
    snapshots.up()
    first = snapshots.outputs()
    assert snapshots.dump(first["snapshot"]).st_size > 0
    history = snapshots.migration_history()
    # Only the api changes: a new snapshot, taken before the api's new container, no migration.
    snapshots.app.healthy("v1.1.0")
    snapshots.set("release.api", "v1.1.0")
    snapshots.up()
    second = snapshots.outputs()
    assert second["snapshot"] != first["snapshot"]
    taken = snapshots.dump(second["snapshot"])
    assert taken.st_size > 0 and snapshots.dump(first["snapshot"]).st_size > 0  # both kept
    created = snapshots.api_created()
    assert taken.st_mtime <= created + 1, f"api created at {created}, snapshot at {taken.st_mtime}"
    assert second["ledger"]["current"]["migrations"]["snapshot"] == second["snapshot"]
    assert second["ledger"]["current"]["services"]["api"]["tag"] == "v1.1.0"
    assert snapshots.migration_history() == history, "a service-only release ran the migration"


@pytest.mark.timeout(600)
def test_snapshot_when_migrations_takes_none_for_a_service_only_release(
    snapshots: Snapshots,
) -> None:
    snapshots.set("snapshot.when", "migrations")
    snapshots.up()  # the trigger goes back to the migrations image: one snapshot, no migration
    before = snapshots.outputs()["snapshot"]
    snapshots.app.healthy("v1.0.0")
    snapshots.set("release.api", "v1.0.0")
    snapshots.up()
    after = snapshots.outputs()
    assert after["snapshot"] == before
    assert after["ledger"]["current"]["services"]["api"]["tag"] == "v1.0.0"
