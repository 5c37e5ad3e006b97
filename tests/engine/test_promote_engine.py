"""`python -m infra promote` against the real Pulumi CLI on a file backend: a "staging" and a
"production" stack of releasegate's own program (the engine tests' target: pins in the local
docker-registry, the api as a podman container, the gate against the HTTP app).

Production runs v1.0.0; staging releases v1.1.0 with the m2 migration. Promotion is refused
while staging's release has soaked less than production's promotion.minSoakMinutes (the file
stays as it was), then writes `tag@digest` pins and release.promotedFrom into production's
stack file, and `pulumi up` on production releases them, gated, with its ledger recording where
each pin came from. A later staging release that fails its gate is refused by name.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.docker.test_snapshot import DATABASE, USER
from tests.engine.conftest import (
    ApiRegistry,
    NamedStack,
    Project,
    Servers,
    migration_command,
)
from tests.servers.http_app import HttpApp

pytestmark = [pytest.mark.servers]

PRODUCTION_HEADER = "# production: promoted from staging, never pinned by hand\n"


def _stack_file(name: str, api: str, migrations: str, extra: str, servers: Servers) -> str:
    """A stack file as a team writes one (block YAML, a comment), for the engine target."""
    return (
        f"# {name} of the promotion engine test\n"
        "config:\n"
        "  releasegate:cloud: local\n"
        "  releasegate:release:\n"
        f"    api: {api}  # the api\n"
        f"    migrations: {migrations}\n"
        "  releasegate:services:\n"
        "    api: {port: 8000, healthPath: /health/ready, secrets: [DATABASE_URL]}\n"
        f"  releasegate:migration: {json.dumps({'command': migration_command(0)})}\n"
        f"  releasegate:database: {{name: {DATABASE}, username: {USER}}}\n"
        # Start-up and deadline with room for a loaded machine; a never-served version still
        # fails within seconds of start-up (failureThreshold in a row).
        "  releasegate:healthGate: {requestTimeoutSeconds: 2, intervalSeconds: 0.2,\n"
        "    successThreshold: 2, failureThreshold: 3, startupSeconds: 5, deadlineSeconds: 30}\n"
        f"  releasegate:local: {{dockerHost: '{servers.engine.base_url}'}}\n"
        "  releasegate:ledgerHistory: 5\n"
        f"{extra}"
        f"  engine:registry: '{servers.registry.server.address}'\n"
        f"  engine:appUrl: '{servers.app.url}'\n"
        f"  engine:dbContainer: {servers.database.container.name}\n"
        f"  engine:namePrefix: {servers.engine.name_prefix}promote-{name}\n"
    )


@dataclass
class Promotion:
    project: Project
    app: HttpApp
    registry: ApiRegistry

    @property
    def production_file(self) -> Path:
        return self.project.root / "Pulumi.production.yaml"

    def stack(self, name: str) -> NamedStack:
        return NamedStack(self.project, name)

    def promote(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The command as a user runs it, in the project folder's backend and passphrase."""
        return self.project.infra("promote", *args)


@pytest.fixture(scope="module")
def promotion(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Promotion]:
    promotion = Promotion(servers.project(tmp_path_factory.mktemp("promote")), servers.app,
                          servers.registry)  # fmt: skip
    promotion.stack("staging").stack_file.write_text(
        _stack_file("staging", "v1.1.0", "m2", "", servers)
    )
    promotion.production_file.write_text(
        PRODUCTION_HEADER
        + _stack_file("production", "v1.0.0", "m1",
                      "  releasegate:promotion: {from: staging, minSoakMinutes: 60}\n", servers)
    )  # fmt: skip
    for name in ("staging", "production"):
        promotion.stack(name).init()
    yield promotion
    for name in ("staging", "production"):
        promotion.stack(name).destroy()


@pytest.mark.timeout(900)
def test_promote_refuses_an_unsoaked_release_then_writes_the_pins_and_production_records_them(
    promotion: Promotion,
) -> None:
    digests = promotion.registry.digests
    promotion.app.healthy("v1.0.0")
    promotion.stack("production").up()
    promotion.app.healthy("v1.1.0")
    promotion.stack("staging").up()
    staging = promotion.stack("staging").outputs()["ledger"]["current"]
    assert staging["services"]["api"]["digest"] == digests["v1.1.0"]

    before = promotion.production_file.read_text()
    refused = promotion.promote("--to", "production", "--yes")  # from: staging, 60 minutes
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"staging's last release {staging['id']} passed its gates" in refused.stderr
    assert "of the 60 minutes production requires (promotion.minSoakMinutes)" in refused.stderr
    assert "minutes remain" in refused.stderr
    assert promotion.production_file.read_text() == before

    promotion.production_file.write_text(before.replace("minSoakMinutes: 60", "minSoakMinutes: 0"))
    edited_before = promotion.production_file.read_text()
    done = promotion.promote("--from", "staging", "--to", "production", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    after = promotion.production_file.read_text()
    # The pin's comment stays (`stack init` re-wrote the file with one space before it).
    assert re.search(rf"^\+    api: v1\.1\.0@{digests['v1.1.0']} +# the api$", done.stdout, re.M)
    assert "migrations are forward-only" in done.stdout
    assert "git add Pulumi.production.yaml && git commit" in done.stdout
    assert after.startswith(PRODUCTION_HEADER)
    old, new = yaml.safe_load(edited_before)["config"], yaml.safe_load(after)["config"]
    release = new.pop("releasegate:release")
    old.pop("releasegate:release")
    assert new == old, "promote changed more than the release"
    promoted_pins = {"api": digests["v1.1.0"], "migrations": digests["m2"]}
    assert release == {
        "api": f"v1.1.0@{digests['v1.1.0']}", "migrations": f"m2@{digests['m2']}",
        "promotedFrom": {"stack": "staging", "release": staging["id"], "pins": promoted_pins},
    }  # fmt: skip

    # The user commits; the deploy runs `pulumi up` on production: gated, recorded.
    promotion.stack("production").up()
    current = promotion.stack("production").outputs()["ledger"]["current"]
    assert current["id"] == staging["id"], "production runs exactly staging's digests"
    assert current["services"]["api"]["tag"] == "v1.1.0"
    assert current["services"]["api"]["gate"]["served_version"] == "v1.1.0"
    assert current["migrations"]["digest"] == digests["m2"]
    # The ledger records where each pin came from (the attempt's promoted_from).
    assert current["promoted_from"] == {
        "stack": "staging", "release": staging["id"], "pins": promoted_pins,
    }  # fmt: skip


@pytest.mark.timeout(600)
def test_promote_refuses_a_staging_release_that_failed_its_gate(promotion: Promotion) -> None:
    staging_file = promotion.project.root / "Pulumi.staging.yaml"
    staging_file.write_text(staging_file.read_text().replace("api: v1.1.0", "api: v1.2.0"))
    failed = promotion.stack("staging").up(check=False)  # the app keeps serving v1.1.0
    assert failed.returncode != 0
    before = promotion.production_file.read_text()
    refused = promotion.promote("--from", "staging", "--to", "production", "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "staging's last release" in refused.stderr
    assert "failed: the ledger never recorded it" in refused.stderr
    assert promotion.production_file.read_text() == before
