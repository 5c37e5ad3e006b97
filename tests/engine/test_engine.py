"""The real Pulumi engine running releasegate's own program (`define_stack`: config, release
graph, outputs) with the test target of tests/engine/target.py and the real dynamic providers.

One stack lives through the module, in order, as a team's stack would:
preview -> up (v1.0.0) -> preview --expect-no-changes -> rollout (v1.1.0) -> re-pin to a build
that never serves (v1.2.0, fails at the gate) -> rollback to v1.0.0 -> a failing migration ->
export -> destroy. A rollout replaces the api's podman container with the pinned digest; what
the api serves is the HTTP app, which a test switches to the version it should serve.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.engine.conftest import REPO, SECRET_SIG, STACK, Stack, migration_command, step_ops

pytestmark = [pytest.mark.servers]

OURS = {
    "secrets-database-password", "database", "pin-api", "pin-migrations",
    "pre-migration-snapshot", "migration", "service-api", "gate-api", "release-ledger",
}  # fmt: skip
TIMINGS: dict[str, dict[str, float]] = {}
"""step -> {"seconds": wall time of the pulumi command, "gate_seconds": gate evidence elapsed}."""


def _record(step: str, seconds: float, gate_seconds: float | None = None) -> None:
    TIMINGS[step] = {"seconds": round(seconds, 2)}
    if gate_seconds is not None:
        TIMINGS[step]["gate_seconds"] = round(gate_seconds, 2)
    print(f"engine step {step}: {TIMINGS[step]}")


def _current_api(outputs: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = outputs["ledger"]["current"]["services"]["api"]
    return entry


def _migration(stack: Stack) -> dict[str, Any]:
    """The migration run's record in state: history, start time and exit code."""
    outputs = stack.project.resource_outputs("migration", show_secrets=True)
    return {key: outputs.get(key) for key in ("history", "started_at", "exit_code")}


def _gate_evidence(stack: Stack) -> Any:
    return stack.project.resource_outputs("gate-api", show_secrets=True)["evidence"]


@pytest.mark.timeout(600)
def test_preview_runs_no_gate_and_no_migration(stack: Stack) -> None:
    requests = stack.app.requests
    since = time.time()
    began = time.monotonic()
    steps = stack.project.preview_json()
    _record("preview", time.monotonic() - began)
    ops = step_ops(steps)
    assert {name: ops.get(name) for name in OURS} == dict.fromkeys(OURS, "create"), ops
    assert stack.app.requests == requests, "preview must not probe the service"
    assert stack.migration_creates(since) == [], "preview must not run the migration"
    assert not list(stack.database.snapshots_dir.glob("*.dump")), "preview took a snapshot"


@pytest.mark.timeout(300)
def test_up_releases_and_records_the_release(stack: Stack) -> None:
    since = time.time()
    result = stack.project.up()
    # Only dynamic resources: the engine needs (and here has) no provider plugin, although
    # pulumi_docker and pulumi_random are installed in the venv.
    assert "plugin" not in result.output.lower(), result.output
    outputs = stack.project.outputs()
    api = _current_api(outputs)
    _record("up", result.seconds, api["gate"]["elapsed_seconds"])
    assert api["tag"] == "v1.0.0"
    assert api["digest"] == stack.registry.digests["v1.0.0"]
    assert api["gate"]["served_version"] == "v1.0.0"
    assert outputs["ledger"]["previous"] is None
    assert outputs["release"]["api"] == (
        f"{stack.registry.server.address}/releasegate/api@{stack.registry.digests['v1.0.0']}"
    )
    migration = _migration(stack)
    assert migration["exit_code"] == 0
    assert [h["release"] for h in migration["history"]] == ["m1"]
    assert len(stack.migration_creates(since)) == 1
    assert outputs["ledger"]["current"]["migrations"]["digest"] == stack.registry.digests["m1"]
    dumps = list(stack.database.snapshots_dir.glob("pre-migrate-m1-*.dump"))
    assert [d.stem for d in dumps] == [outputs["snapshot"]]
    assert outputs["ledger"]["current"]["migrations"]["snapshot"] == outputs["snapshot"]
    # The rollout: the api's container runs the pinned digest, pulled from the registry.
    container = stack.engine.client().containers.get(f"{stack.name_prefix}-api")
    assert container.status == "running"
    # (podman names the image by the digest only: a same-digest image pulled earlier from
    # another registry address is reused under that address)
    image = container.attrs["Config"]["Image"]
    assert image.rsplit("@", 1)[-1] == stack.registry.digests["v1.0.0"], image
    assert "DATABASE_URL_FILE=/run/secrets/DATABASE_URL" in container.attrs["Config"]["Env"]
    assert stack.secret not in json.dumps(container.attrs), "a secret in the container's config"
    # The migration printed the database password: its log tail is a secret in state, and
    # redacted even for whoever may read secrets.
    state = stack.project.state()
    for name, key in (("migration", "log_tail"), ("gate-api", "evidence")):
        value = state[name]["outputs"][key]
        assert isinstance(value, dict) and SECRET_SIG in value, f"{name}.{key}: {value}"
    tail = stack.project.resource_outputs("migration", show_secrets=True)["log_tail"]
    assert "password=[redacted] dbname=app" in tail, tail
    assert "database password is [redacted]" in tail, tail
    assert stack.secret not in tail
    assert stack.secret not in result.output

    began = time.monotonic()
    stack.project.pulumi("preview", "--expect-no-changes", "--non-interactive", "--stack", STACK)
    _record("preview --expect-no-changes", time.monotonic() - began)


@pytest.mark.timeout(300)
def test_rollout_to_a_new_version_passes(stack: Stack) -> None:
    before = _migration(stack)
    stack.app.healthy("v1.1.0")
    stack.project.set_pin("api", "v1.1.0")
    since = time.time()
    result = stack.project.up()
    outputs = stack.project.outputs()
    api = _current_api(outputs)
    _record("rollout up", result.seconds, api["gate"]["elapsed_seconds"])
    assert (api["tag"], api["gate"]["served_version"]) == ("v1.1.0", "v1.1.0")
    assert outputs["ledger"]["previous"]["services"]["api"]["tag"] == "v1.0.0"
    assert _migration(stack) == before, "a re-pin of the api re-ran migrations"
    assert stack.migration_creates(since) == []


@pytest.mark.timeout(300)
def test_repin_to_a_version_never_served_fails_at_the_gate(stack: Stack) -> None:
    before = stack.project.outputs()
    before_migration = _migration(stack)
    stack.project.set_pin("api", "v1.2.0")  # the app keeps serving v1.1.0
    result = stack.project.up(check=False)
    _record("failing up (gate)", result.seconds)
    assert result.returncode != 0, result.output
    output = result.output
    # The gate's evidence: what was served against what the pin expects.
    failed = re.search(r"health gate for 'api' failed: .* after ([0-9.]+) s", output)
    assert failed, output[-4000:]
    TIMINGS["failing up (gate)"]["gate_seconds"] = float(failed.group(1))
    digest = stack.registry.digests["v1.2.0"]
    assert f"serves version 'v1.1.0', expected one of [v1.2.0, {digest}]" in output, output
    after = stack.project.outputs()
    assert after["ledger"] == before["ledger"], "a failed gate changed the ledger"
    assert _current_api(after)["tag"] == "v1.1.0"
    assert _migration(stack) == before_migration


def infra(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m infra ...` against the test stack, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "infra", *args, "--stack", STACK, "--cwd", str(stack.project.root)],
        cwd=REPO, env=stack.project.env, capture_output=True, text=True, timeout=300,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.timeout(300)
def test_one_command_rolls_a_failed_release_back_to_the_last_good_one(stack: Stack) -> None:
    before = _migration(stack)
    assert stack.project.pins()["api"] == "v1.2.0"  # the failed release is still pinned
    since = time.time()
    began = time.monotonic()
    result = infra(stack, "rollback", "--yes")
    _record("rollback command (failed -> last good)", time.monotonic() - began)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "api: v1.2.0 -> v1.1.0" in result.stdout
    assert "migrations: stays m1" in result.stdout
    assert re.search(r"rolled back engine to \w+ in [0-9.]+s; gate evidence:", result.stdout)
    assert "api: serves v1.1.0" in result.stdout
    assert stack.project.pins()["api"] == "v1.1.0"
    after = stack.project.outputs()
    api = _current_api(after)
    step = TIMINGS["rollback command (failed -> last good)"]
    step["gate_seconds"] = api["gate"]["elapsed_seconds"]
    assert (api["tag"], api["gate"]["served_version"]) == ("v1.1.0", "v1.1.0")
    assert _migration(stack) == before, "the rollback re-ran migrations"
    assert stack.migration_creates(since) == []
    listed = infra(stack, "releases", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows[0]["services"]["api"]["pin"] == "v1.1.0"
    assert rows[0]["services"]["api"]["served_version"] == "v1.1.0"
    stack.project.pulumi("preview", "--expect-no-changes", "--non-interactive", "--stack", STACK)


@pytest.mark.timeout(300)
def test_rollback_to_an_older_release_gates_only_the_service(stack: Stack) -> None:
    before = stack.project.outputs()
    before_migration = _migration(stack)
    older = next(e for e in before["ledger"]["history"]
                 if e["services"]["api"]["tag"] == "v1.0.0")  # fmt: skip
    stack.app.healthy("v1.0.0")  # the rollback's rollout
    since = time.time()
    began = time.monotonic()
    result = infra(stack, "rollback", "--service", "api", "--to", older["id"], "--yes")
    _record("rollback command (--to older)", time.monotonic() - began)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    after = stack.project.outputs()
    api = _current_api(after)
    TIMINGS["rollback command (--to older)"]["gate_seconds"] = api["gate"]["elapsed_seconds"]
    assert (api["tag"], api["digest"]) == ("v1.0.0", older["services"]["api"]["digest"])
    assert api["gate"]["served_version"] == "v1.0.0"
    assert after["ledger"]["previous"]["services"]["api"]["tag"] == "v1.1.0"
    assert _migration(stack) == before_migration, "the rollback re-ran migrations"
    assert after["snapshot"] == before["snapshot"], "the rollback took a snapshot"
    assert stack.migration_creates(since) == []
    stack.project.pulumi("preview", "--expect-no-changes", "--non-interactive", "--stack", STACK)


@pytest.mark.timeout(300)
def test_rollback_that_would_take_the_schema_back_is_refused(stack: Stack) -> None:
    # A release whose migrations moved on (m2): the api's older releases ran m1.
    stack.project.set_pin("migrations", "m2")
    stack.project.up()
    pins = stack.project.pins()
    ledger = stack.project.outputs()["ledger"]
    assert ledger["current"]["migrations"]["tag"] == "m2"
    m1 = next(e for e in ledger["history"] if e["migrations"]["tag"] == "m1")
    result = infra(stack, "rollback", "--to", m1["id"], "--yes")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "migrations are forward-only" in result.stderr
    assert "database.restoreFromSnapshot" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert stack.project.pins() == pins, "a refused rollback changed the config"
    assert stack.project.outputs()["ledger"] == ledger


@pytest.mark.timeout(300)
def test_failing_migration_stops_the_release(stack: Stack) -> None:
    before = stack.project.outputs()
    before_migration = _migration(stack)
    before_evidence = _gate_evidence(stack)
    # A new api build ready to serve: only the failed migration may keep it from shipping.
    stack.app.healthy("v1.1.0")
    stack.project.set_pin("api", "v1.1.0")
    stack.project.set_config("migration.command[1]", migration_command(3)[1], path=True)
    requests = stack.app.requests
    result = stack.project.up(check=False)
    _record("failing up (migration)", result.seconds)
    assert result.returncode != 0, result.output
    output = result.output
    assert "exit code 3" in output, output[-4000:]
    assert "migration finished with 3" in output, "the log tail is missing:\n" + output[-4000:]
    assert "database password is [redacted]" in output, output[-4000:]
    assert "password=[redacted] dbname=app" in output, output[-4000:]
    assert stack.secret not in output
    assert stack.app.requests == requests, "the gate ran after a failed migration"
    after = stack.project.outputs()
    assert after["ledger"] == before["ledger"]
    assert _gate_evidence(stack) == before_evidence
    assert _migration(stack)["history"] == before_migration["history"]
    # Back to a good configuration for what follows.
    stack.project.set_config("migration.command[1]", migration_command(0)[1], path=True)
    stack.project.set_pin("api", "v1.0.0")
    stack.app.healthy("v1.0.0")


@pytest.mark.timeout(300)
def test_the_policy_pack_runs_under_the_real_analyzer(stack: Stack) -> None:
    """The pack loads through the CLI's python policy analyzer, in the project's virtualenv,
    with the production config (mandatory), and passes this stack's resources."""
    result = stack.project.pulumi(
        "preview", "--non-interactive", "--stack", STACK,
        "--policy-pack", str(REPO / "policy"),
        "--policy-pack-config", str(REPO / "policy" / "config" / "production.json"),
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.output[-4000:]
    assert "releasegate" in result.output and "Policies:" in result.output, result.output


@pytest.mark.timeout(120)
def test_stack_export_holds_no_secret_in_clear(stack: Stack) -> None:
    result = stack.project.pulumi("stack", "export", "--stack", STACK)
    state = json.loads(result.stdout)
    assert state["deployment"]["resources"], "empty state"
    for needle in (stack.secret, stack.database_url, "postgresql://"):
        assert needle not in result.stdout, f"{needle!r} in clear in the stack export"
    # What could hold a secret is stored encrypted: the log tail (a successful run printed the
    # password), the gate's evidence, and the known secrets handed over for redaction.
    by_name = {r["urn"].rsplit("::", 1)[-1]: r for r in state["deployment"]["resources"]}
    encrypted = {
        ("migration", "outputs", "log_tail"),
        ("migration", "outputs", "secret_files"),
        ("migration", "inputs", "known_secrets"),
        ("gate-api", "outputs", "evidence"),
        ("gate-api", "inputs", "known_secrets"),
        ("pre-migration-snapshot", "inputs", "known_secrets"),
        ("secrets-database-password", "outputs", "result"),
        ("service-api", "inputs", "secret_files"),
        ("service-api", "outputs", "secret_files"),
    }
    for name, part, key in sorted(encrypted):
        value = by_name[name][part][key]
        assert isinstance(value, dict) and SECRET_SIG in value and "ciphertext" in value, (
            f"{name}.{part}.{key} is not stored as a secret: {str(value)[:200]}"
        )
    for name in ("migration", "gate-api", "pre-migration-snapshot"):
        assert "known_secrets" not in by_name[name]["outputs"], f"{name} outputs known_secrets"
    config = (stack.project.root / f"Pulumi.{STACK}.yaml").read_text()
    assert stack.secret not in config


@pytest.mark.timeout(300)
def test_destroy_leaves_the_snapshot(stack: Stack) -> None:
    outputs = stack.project.outputs()
    dump = stack.database.snapshots_dir / f"{outputs['snapshot']}.dump"
    assert dump.is_file()
    size = dump.stat().st_size
    began = time.monotonic()
    stack.project.pulumi("destroy", "--yes", "--non-interactive", "--skip-preview",
                         "--stack", STACK)  # fmt: skip
    _record("destroy", time.monotonic() - began)
    assert dump.is_file() and dump.stat().st_size == size, "destroy removed the snapshot"
    state = json.loads(stack.project.pulumi("stack", "export", "--stack", STACK).stdout)
    left = [r["urn"] for r in state["deployment"].get("resources") or []
            if r["type"].startswith("pulumi-python:dynamic")]  # fmt: skip
    assert left == [], left
    names = [c.name for c in stack.engine.client().containers.list(all=True, ignore_removed=True)]
    assert f"{stack.name_prefix}-api" not in names, "destroy left the api container"
    print(f"engine timings: {json.dumps(TIMINGS)}")
