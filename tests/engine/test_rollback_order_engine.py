"""`python -m infra rollback` of several services through the real Pulumi CLI on a file backend:
releasegate's own program with two services, web shipping after the api it calls (both from the
engine test registry's images, each a podman container gated against the test's HTTP app).

Both are released at v1.0.0, then at v1.1.0; the rollback re-pins web first and runs a gated
`up`, then the api and another gated `up`: the ledger records the step in between (web back,
the api not yet), marks the release it left as rolled back (RELEASEGATE_ROLLBACK_OF reached the
program), the stack file holds the re-pins, and the command says to commit it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docker.test_snapshot import DATABASE, USER
from tests.engine.conftest import ApiRegistry, NamedStack, Servers, migration_command
from tests.servers.http_app import HttpApp

pytestmark = [pytest.mark.servers]

STACK = "order"


@dataclass(kw_only=True)
class Ordered(NamedStack):
    app: HttpApp
    registry: ApiRegistry

    def ledger_state(self) -> dict[str, Any]:
        """The ReleaseLedger resource's outputs in the checkpoint (`marked` is not exported)."""
        resources = self.resources().values()
        found = next(r for r in resources if r["type"].endswith(":ReleaseLedger"))
        outputs: dict[str, Any] = found["outputs"]
        return outputs

    def pin(self, api: str, web: str) -> None:
        for name, tag in (("api", api), ("web", web)):
            self.set(f"release.{name}", tag)


@pytest.fixture(scope="module")
def ordered(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ordered]:
    project = servers.project(tmp_path_factory.mktemp("rollback-order"))
    ordered = Ordered(project, STACK, app=servers.app, registry=servers.registry)
    service = {"port": 8000, "healthPath": "/health/ready", "secrets": ["DATABASE_URL"],
               "repository": "releasegate/api"}  # fmt: skip
    ordered.stack_file.write_text(
        "# the rollback order engine test's stack: web ships after the api it calls\n"
        "config:\n"
        "  releasegate:cloud: local\n"
        "  releasegate:release:\n"
        "    api: v1.0.0\n"
        "    web: v1.0.0\n"
        "    migrations: m1\n"
        "  releasegate:services:\n"
        f"    web: {json.dumps({**service, 'port': 3000, 'after': ['api']})}\n"
        f"    api: {json.dumps(service)}\n"
        f"  releasegate:migration: {json.dumps({'command': migration_command(0)})}\n"
        f"  releasegate:database: {{name: {DATABASE}, username: {USER}}}\n"
        "  releasegate:healthGate: {requestTimeoutSeconds: 2, intervalSeconds: 0.2,\n"
        "    successThreshold: 2, failureThreshold: 3, startupSeconds: 1, deadlineSeconds: 10}\n"
        f"  releasegate:local: {{dockerHost: '{servers.engine.base_url}'}}\n"
        "  releasegate:ledgerHistory: 6\n"
        f"  engine:registry: '{servers.registry.server.address}'\n"
        f"  engine:appUrl: '{servers.app.url}'\n"
        f"  engine:dbContainer: {servers.database.container.name}\n"
        f"  engine:namePrefix: {servers.engine.name_prefix}order\n"
    )
    ordered.init()
    yield ordered
    ordered.destroy()


@pytest.mark.timeout(900)
def test_rollback_of_two_services_goes_web_then_api_each_gated_and_says_to_commit(
    ordered: Ordered,
) -> None:
    digests = ordered.registry.digests
    ordered.app.healthy("v1.0.0")
    ordered.up()
    first = ordered.ledger()["current"]
    ordered.app.healthy("v1.1.0")
    ordered.pin("v1.1.0", "v1.1.0")
    ordered.up()
    left = ordered.ledger()["current"]
    assert {n: s["tag"] for n, s in left["services"].items()} == {"api": "v1.1.0",
                                                                  "web": "v1.1.0"}  # fmt: skip

    ordered.app.healthy("v1.0.0")  # what the rolled-back builds serve
    result = ordered.infra("rollback", "--yes", timeout=600)
    output = result.stdout
    assert result.returncode == 0, output[-6000:] + result.stderr[-3000:]

    # The step plan, printed before anything ran: web first, then the api it calls.
    plan = output[: output.index("step 1/2:")]
    assert "1. web: v1.1.0 -> v1.0.0" in plan and "2. api: v1.1.0 -> v1.0.0" in plan
    assert output.index("step 1/2: web") < output.index("step 1/2 done: web serves v1.0.0")
    assert output.index("step 1/2 done") < output.index("step 2/2: api")
    assert "step 2/2 done: api serves v1.0.0" in output

    # The ledger recorded each step as its own gated release, web's first.
    ledger = ordered.ledger()
    final, between = ledger["history"][0], ledger["history"][1]
    assert ledger["history"][2]["id"] == left["id"]
    assert {n: s["tag"] for n, s in between["services"].items()} == {"api": "v1.1.0",
                                                                     "web": "v1.0.0"}  # fmt: skip
    assert between["services"]["web"]["gate"]["served_version"] == "v1.0.0"
    assert {n: s["tag"] for n, s in final["services"].items()} == {"api": "v1.0.0",
                                                                   "web": "v1.0.0"}  # fmt: skip
    assert final["services"]["api"]["gate"]["served_version"] == "v1.0.0"
    assert between["recorded_at"] <= final["recorded_at"]
    web_gate = final["services"]["web"]["gate"]["checked_at"]
    assert web_gate == between["services"]["web"]["gate"]["checked_at"]  # not re-gated
    assert web_gate < final["services"]["api"]["gate"]["checked_at"]
    assert final["services"]["api"]["digest"] == digests["v1.0.0"]
    assert final["id"] == first["id"]  # the pins of the first release again
    # RELEASEGATE_ROLLBACK_OF reached the program: both steps name the release left, and
    # the ledger marks it rolled back with the images the rollback changed.
    assert between["rollback_of"] == left["id"] and final["rollback_of"] == left["id"]
    mark = ordered.ledger_state()["marked"][left["id"]]
    assert mark["state"] == "rolled-back" and mark["images"] == ["api", "web"]

    # The stack file (a temporary copy) holds the re-pins; the command says to commit it.
    config = yaml.safe_load(ordered.stack_file.read_text())["config"]
    assert config["releasegate:release"] == {"api": "v1.0.0", "web": "v1.0.0",
                                             "migrations": "m1"}  # fmt: skip
    assert (f"The stack file {ordered.stack_file} changed; it now pins: api=v1.0.0, "
            "web=v1.0.0, migrations=m1.") in output  # fmt: skip
    assert f"Commit it: git commit -m 'Roll back {STACK} to release {first['id']}' -- " in output
    assert ("otherwise the next deploy from the repository ships web v1.1.0, api v1.1.0 "
            "again") in output  # fmt: skip


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


@pytest.mark.timeout(600)
def test_rollback_with_commit_commits_the_stack_file_on_a_new_branch(ordered: Ordered) -> None:
    """The project as a repository whose main pins what runs: the api ships v1.2.0 (pinned and
    committed), then `rollback --service api --yes --commit` rolls it back, gated, and commits
    the re-pinned stack file alone on rollback/order-<release>-<UTC time>; main is untouched."""
    root = ordered.project.root
    _git(root, "init", "--quiet", "--initial-branch", "main")
    _git(root, "config", "user.name", "Release Engineer")
    _git(root, "config", "user.email", "release@example.com")
    _git(root, "add", "Pulumi.yaml", ordered.stack_file.name)
    _git(root, "commit", "--quiet", "-m", "the order stack")
    before = ordered.ledger()["current"]
    ordered.app.healthy("v1.2.0")
    ordered.set("release.api", "v1.2.0")
    ordered.up()
    shipped = ordered.ledger()["current"]
    assert shipped["services"]["api"]["tag"] == "v1.2.0"
    _git(root, "commit", "--quiet", "-m", "ship api v1.2.0", "--", ordered.stack_file.name)

    ordered.app.healthy("v1.0.0")
    result = ordered.infra("rollback", "--service", "api", "--yes", "--commit", timeout=600)
    output = result.stdout
    assert result.returncode == 0, output[-6000:] + result.stderr[-3000:]
    assert "1. api: v1.2.0 -> v1.0.0" in output and "step 1/1 done: api serves v1.0.0" in output
    current = ordered.ledger()["current"]
    assert current["services"]["api"]["tag"] == "v1.0.0" and current["id"] == before["id"]
    assert current["rollback_of"] == shipped["id"]

    branch = _git(root, "branch", "--show-current")
    assert branch.startswith(f"rollback/{STACK}-{before['id']}-"), branch
    assert f"Committed {ordered.stack_file.name} on the new branch {branch}" in output
    assert f"git push --set-upstream origin {branch}" in output
    assert f"gh pr create --base main --head {branch} --fill" in output
    assert _git(root, "show", "--name-only", "--format=%s", "HEAD").splitlines() == [
        f"Roll back {STACK} to release {before['id']}", "", ordered.stack_file.name,
    ]
    committed = yaml.safe_load(_git(root, "show", f"HEAD:{ordered.stack_file.name}"))
    assert committed["config"]["releasegate:release"]["api"] == "v1.0.0"
    assert _git(root, "log", "--format=%s", "-1", "main") == "ship api v1.2.0"
    assert _git(root, "status", "--porcelain", "--", ordered.stack_file.name) == ""
    assert "Commit it: git commit" not in output  # committed: no reminder
