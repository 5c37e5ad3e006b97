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

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.engine.conftest import SECRET_FILE, SECRET_SIG, ApiRegistry, NamedStack, Servers
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


@dataclass(kw_only=True)
class Verified(NamedStack):
    app: HttpApp
    registry: ApiRegistry
    engine: PodmanEngine
    name_prefix: str

    def api_image_digest(self) -> str:
        container = self.engine.client().containers.get(f"{self.name_prefix}-api")
        image: str = container.attrs["Config"]["Image"]
        return image.rsplit("@", 1)[-1]


@pytest.fixture(scope="module")
def verified(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verified]:
    project = servers.project(tmp_path_factory.mktemp("verify-engine"))
    name_prefix = f"{servers.engine.name_prefix}verify"
    config = servers.config(name_prefix)
    config["releasegate:migration"] = {
        **config["releasegate:migration"],
        "verify": {"command": ["-c", PASSING], "timeoutSeconds": 60},
    }
    verified = Verified(project, STACK, app=servers.app, registry=servers.registry,
                        engine=servers.engine, name_prefix=name_prefix)  # fmt: skip
    verified.init(config)
    yield verified
    verified.destroy()


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
    run = verified.resources()["verify-migrations"]["outputs"]
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
    state = verified.resources()
    # The migration itself ran (m2): the verify after it is what stopped the release.
    history = state["migration"]["outputs"]["history"]
    assert [h["release"] for h in history][-1] == "m2", history
    assert (
        state["service-api"]["inputs"]["image"].rsplit("@", 1)[-1]
        == (verified.registry.digests["v1.0.0"])
    )
