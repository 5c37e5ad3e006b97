"""`releasegate:snapshot` through the real Pulumi CLI on a file backend, on the engine test
target (the product's Docker snapshot backend against the test's PostgreSQL container): with
`when: always` a release that re-pins only a service takes a new pre-migration snapshot before
it rolls out (and runs no migration); with `when: migrations` (the default) the same kind of
re-pin takes none."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.docker.test_snapshot import DATABASE, USER
from tests.engine.conftest import (
    PROJECT,
    REPO,
    ApiRegistry,
    Database,
    Project,
    _environment,
    migration_command,
)
from tests.servers.http_app import HttpApp
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers]

STACK = "snapshots"


@dataclass
class Snapshots:
    project: Project
    app: HttpApp
    database: Database
    engine: PodmanEngine
    name_prefix: str

    def up(self) -> Any:
        return self.project.pulumi("up", "--yes", "--skip-preview", "--non-interactive",
                                   "--stack", STACK)  # fmt: skip

    def set(self, key: str, value: str) -> None:
        self.project.pulumi("config", "set", "--path", "--stack", STACK, key, value)

    def outputs(self) -> dict[str, Any]:
        result = self.project.pulumi("stack", "output", "--json", "--stack", STACK)
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def migration_history(self) -> list[Any]:
        result = self.project.pulumi("stack", "export", "--stack", STACK)
        resources = json.loads(result.stdout)["deployment"]["resources"]
        run = next(r for r in resources if r["urn"].endswith("::migration"))
        history: list[Any] = run["outputs"]["history"]
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
def snapshots(
    pulumi_bin: str,
    api_registry: ApiRegistry,
    engine: PodmanEngine,
    database: Database,
    app: HttpApp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Snapshots]:
    work = tmp_path_factory.mktemp("snapshot-policy-engine")
    root = work / "project"
    shutil.copytree(PROJECT / "program", root / "program",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    project_file = (REPO / "Pulumi.yaml").read_text()
    (root / "Pulumi.yaml").write_text(
        project_file.replace("\nmain: infra/\n", "\nmain: program/\n")
    )
    (root / "venv").symlink_to(os.path.relpath(REPO / "venv", root))
    project = Project(root, _environment(pulumi_bin, work / "state"))
    name_prefix = f"{engine.name_prefix}snap"
    config: dict[str, Any] = {
        "releasegate:cloud": "local",
        "releasegate:release": {"api": "v1.0.0", "migrations": "m1"},
        "releasegate:services": {
            "api": {"port": 8000, "healthPath": "/health/ready", "secrets": ["DATABASE_URL"]},
        },
        "releasegate:migration": {"command": migration_command(0), "timeoutSeconds": 60},
        "releasegate:snapshot": {"when": "always"},
        "releasegate:database": {"name": DATABASE, "username": USER},
        "releasegate:healthGate": {
            "requestTimeoutSeconds": 2, "intervalSeconds": 0.2, "successThreshold": 2,
            "failureThreshold": 3, "startupSeconds": 1, "deadlineSeconds": 10,
        },
        "releasegate:local": {"dockerHost": engine.base_url},
        "releasegate:ledgerHistory": 5,
        "engine:registry": api_registry.server.address,
        "engine:appUrl": app.url,
        "engine:dbContainer": database.container.name,
        "engine:namePrefix": name_prefix,
    }  # fmt: skip
    (root / f"Pulumi.{STACK}.yaml").write_text(json.dumps({"config": config}, indent=2))
    project.pulumi("stack", "init", STACK, "--non-interactive")
    yield Snapshots(project, app, database, engine, name_prefix)
    project.pulumi("destroy", "--yes", "--non-interactive", "--stack", STACK, check=False)


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
