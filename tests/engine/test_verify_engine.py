"""`migration.verify` through the real Pulumi CLI on a file backend: releasegate's own program
(`define_stack`) with the engine test target, the migration and its verify job each a podman
container from the pinned migrations image, the api a podman container gated against the
test's HTTP app.

A verify that exits 0 is part of the release: the ledger records its plain summary (exit code,
time, duration; the log tail stays a secret in state). A verify that exits non-zero stops
`up` like a failed gate: the error names the job, its exit code and its redacted log tail,
the api shipping after the migration is not rolled out, and the ledger is unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.docker.test_snapshot import DATABASE, USER
from tests.engine.conftest import (
    PROJECT,
    REPO,
    SECRET_FILE,
    SECRET_SIG,
    ApiRegistry,
    Database,
    Project,
    _environment,
    migration_command,
)
from tests.servers.http_app import HttpApp
from tests.servers.podman import PodmanEngine

pytestmark = [pytest.mark.servers]

STACK = "verify"
PASSING = "echo checking schema; echo current=head; exit 0"
FAILING = (
    f'echo checking schema; read -r URL < {SECRET_FILE}; echo "using $URL"; '
    "echo schema behind head; exit 3"
)
"""Prints the database URL (a careless tool): only its redacted form may reach the output."""


@dataclass
class Verified:
    project: Project
    app: HttpApp
    registry: ApiRegistry
    engine: PodmanEngine
    name_prefix: str

    def up(self, *, check: bool = True) -> Any:
        return self.project.pulumi("up", "--yes", "--skip-preview", "--non-interactive",
                                   "--stack", STACK, check=check)  # fmt: skip

    def set(self, key: str, value: str) -> None:
        self.project.pulumi("config", "set", "--path", "--stack", STACK, key, value)

    def ledger(self) -> dict[str, Any]:
        result = self.project.pulumi("stack", "output", "--json", "--stack", STACK)
        ledger: dict[str, Any] = json.loads(result.stdout)["ledger"]
        return ledger

    def state(self) -> dict[str, dict[str, Any]]:
        result = self.project.pulumi("stack", "export", "--stack", STACK)
        resources = json.loads(result.stdout)["deployment"]["resources"]
        return {r["urn"].rsplit("::", 1)[-1]: r for r in resources}

    def api_image_digest(self) -> str:
        container = self.engine.client().containers.get(f"{self.name_prefix}-api")
        image: str = container.attrs["Config"]["Image"]
        return image.rsplit("@", 1)[-1]


@pytest.fixture(scope="module")
def verified(
    pulumi_bin: str,
    api_registry: ApiRegistry,
    engine: PodmanEngine,
    database: Database,
    app: HttpApp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Verified]:
    work = tmp_path_factory.mktemp("verify-engine")
    root = work / "project"
    shutil.copytree(PROJECT / "program", root / "program",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    project_file = (REPO / "Pulumi.yaml").read_text()
    (root / "Pulumi.yaml").write_text(
        project_file.replace("\nmain: infra/\n", "\nmain: program/\n")
    )
    (root / "venv").symlink_to(os.path.relpath(REPO / "venv", root))
    project = Project(root, _environment(pulumi_bin, work / "state"))
    name_prefix = f"{engine.name_prefix}verify"
    config: dict[str, Any] = {
        "releasegate:cloud": "local",
        "releasegate:release": {"api": "v1.0.0", "migrations": "m1"},
        "releasegate:services": {
            "api": {"port": 8000, "healthPath": "/health/ready", "secrets": ["DATABASE_URL"]},
        },
        "releasegate:migration": {
            "command": migration_command(0), "timeoutSeconds": 60,
            "verify": {"command": ["-c", PASSING], "timeoutSeconds": 60},
        },
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
    yield Verified(project, app, api_registry, engine, name_prefix)
    project.pulumi("destroy", "--yes", "--non-interactive", "--stack", STACK, check=False)


@pytest.mark.timeout(600)
def test_a_passing_migration_verify_is_recorded_in_the_ledger(verified: Verified) -> None:
    verified.app.healthy("v1.0.0")
    verified.up()
    ledger = verified.ledger()
    current = ledger["current"]
    assert current["services"]["api"]["tag"] == "v1.0.0"
    assert current["services"]["api"]["gate"]["served_version"] == "v1.0.0"
    summary = current["migrations"]["verify"]
    assert summary["exit_code"] == 0, summary
    assert summary["checked_at"] and summary["duration_seconds"] is not None, summary
    assert set(summary) == {"checked_at", "exit_code", "duration_seconds"}  # no log tail
    run = verified.state()["verify-migrations"]["outputs"]
    assert run["exit_code"] == 0
    assert isinstance(run["log_tail"], dict) and SECRET_SIG in run["log_tail"], run["log_tail"]
    assert verified.api_image_digest() == verified.registry.digests["v1.0.0"]


@pytest.mark.timeout(600)
def test_a_failing_migration_verify_stops_the_up_before_the_api_ships(
    verified: Verified,
) -> None:
    before = verified.ledger()
    assert before["current"]["services"]["api"]["tag"] == "v1.0.0"  # the release above
    # A release with a new migrations image and a new api build ready to serve: only the
    # failing verify may keep the api from shipping.
    verified.app.healthy("v1.1.0")
    verified.set("release.api", "v1.1.0")
    verified.set("release.migrations", "m2")
    verified.set("migration.verify.command[1]", FAILING)
    requests = verified.app.requests
    result = verified.up(check=False)
    output = result.output
    assert result.returncode != 0, output[-4000:]
    assert "verify of migrations" in output and "exit code 3" in output, output[-4000:]
    assert "schema behind head" in output, output[-4000:]
    assert "using [redacted]" in output, output[-4000:]
    assert "postgresql://" not in output
    # Later services were not rolled out nor gated; the ledger is unchanged.
    assert verified.api_image_digest() == verified.registry.digests["v1.0.0"]
    assert verified.app.requests == requests, "the api's gate ran after a failed verify"
    assert verified.ledger() == before
    state = verified.state()
    # The migration itself ran (m2): the verify after it is what stopped the release.
    history = state["migration"]["outputs"]["history"]
    assert [h["release"] for h in history][-1] == "m2", history
    assert (
        state["service-api"]["inputs"]["image"].rsplit("@", 1)[-1]
        == (verified.registry.digests["v1.0.0"])
    )
