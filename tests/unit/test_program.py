"""The real program under Pulumi mocks, once per checked-in stack file: resource graph,
dependency order, secrets marked secret, images by digest, protect on the database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from infra.plan import (
    PROJECT_ROOT,
    Plan,
    PlannedResource,
    apply_sets,
    diff_plans,
    evaluate,
    load_stack_config,
)
from infra.settings import ConfigError
from tests.unit.stacks import stack_cloud, stack_files, stacks_for

LOCAL_STACKS = stacks_for("local")
DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def plan_for(stack: str, *sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config(stack), list(sets)))


def one(plan: Plan, type_suffix: str, name: str) -> PlannedResource:
    found = [r for r in plan.resources if r.type.endswith(type_suffix) and r.name == name]
    assert len(found) == 1, f"expected one {type_suffix} {name}, found {len(found)}"
    return found[0]


def depends_on(plan: Plan, resource: PlannedResource, other: PlannedResource) -> bool:
    """True when `resource` waits for `other`: directly, through a parent component whose
    children it waits for, or transitively."""
    by_urn = plan.by_urn()
    children: dict[str, list[str]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r.urn)

    def expand(urn: str) -> set[str]:
        out = {urn}
        for child in children.get(urn, []):
            out |= expand(child)
        return out

    wanted = expand(other.urn)  # waiting for a component means waiting for its children
    seen: set[str] = set()
    stack = [resource.urn]
    while stack:
        urn = stack.pop()
        res = by_urn.get(urn)
        if res is None:
            continue
        for dep in res.dependencies:
            for target in expand(dep):
                if target in wanted:
                    return True
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        if res.parent and res.parent not in seen:
            seen.add(res.parent)
            stack.append(res.parent)
    return False


@pytest.fixture(scope="module", params=LOCAL_STACKS)
def stack_plan(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, plan_for(request.param)


def test_every_stack_file_is_checked() -> None:
    """Each stack file names a cloud whose unit tests evaluate it (this module: local;
    test_aws_program.py: aws; test_azure_program.py: azure)."""
    files = stack_files()
    assert {"dev", "staging", "production"} <= set(files)
    for name, path in files.items():
        assert stack_cloud(path) in {"local", "aws", "azure"}, name
    assert "dev" in LOCAL_STACKS


def test_release_graph_has_every_step(stack_plan: tuple[str, Plan]) -> None:
    stack, plan = stack_plan
    config = load_stack_config(stack)
    services = list(config.values["releasegate:release"].keys() - {"migrations"})
    for name in [*services, "migrations"]:
        one(plan, ":ImagePin", f"pin-{name}")
    for name in services:
        one(plan, ":HealthGate", f"gate-{name}")
        one(plan, "local:Service", f"service-{name}")
    one(plan, ":PreMigrationSnapshot", "pre-migration-snapshot")
    one(plan, ":MigrationRun", "migration")
    one(plan, ":ReleaseLedger", "release-ledger")
    one(plan, "local:Database", "database")


def test_dependency_order_follows_the_runbook(stack_plan: tuple[str, Plan]) -> None:
    _, plan = stack_plan
    pin = one(plan, ":ImagePin", "pin-migrations")
    snapshot = one(plan, ":PreMigrationSnapshot", "pre-migration-snapshot")
    migration = one(plan, ":MigrationRun", "migration")
    database = one(plan, "local:Database", "database")
    api = one(plan, "local:Service", "service-api")
    api_gate = one(plan, ":HealthGate", "gate-api")
    web = one(plan, "local:Service", "service-web")
    web_gate = one(plan, ":HealthGate", "gate-web")
    ledger = one(plan, ":ReleaseLedger", "release-ledger")
    chain = [
        (snapshot, pin),
        (snapshot, database),
        (migration, snapshot),
        (api, migration),
        (api_gate, api),
        (web, api_gate),
        (web_gate, web),
        (ledger, web_gate),
        (ledger, api_gate),
    ]
    for later, earlier in chain:
        assert depends_on(plan, later, earlier), f"{later.name} must wait for {earlier.name}"
    # And never the other way round: a gate never waits for what it gates.
    assert not depends_on(plan, api, api_gate)
    assert not depends_on(plan, migration, api)


def test_workers_roll_out_after_the_services_they_name() -> None:
    plan = plan_for("dev")
    worker = one(plan, "local:Service", "service-worker")
    worker_gate = one(plan, ":HealthGate", "gate-worker")
    assert depends_on(plan, worker, one(plan, ":HealthGate", "gate-api"))
    assert worker_gate.inputs.get("url") is None
    assert worker_gate.inputs["platform"]["kind"] == "docker"


def test_migration_can_be_placed_after_named_services() -> None:
    plan = plan_for("dev", "migration.after=[api]")
    api_gate = one(plan, ":HealthGate", "gate-api")
    migration = one(plan, ":MigrationRun", "migration")
    web = one(plan, "local:Service", "service-web")
    assert depends_on(plan, migration, api_gate)
    assert depends_on(plan, web, migration)
    assert not depends_on(plan, one(plan, "local:Service", "service-api"), migration)


def test_services_run_images_by_digest(stack_plan: tuple[str, Plan]) -> None:
    _, plan = stack_plan
    pulls = [
        r
        for r in plan.resources
        if r.type == "docker:index/remoteImage:RemoteImage" and r.name.startswith("service-")
    ]
    assert pulls
    for pull in pulls:
        assert DIGEST_REF.match(pull.inputs["name"]), pull.inputs["name"]
    for gate in (r for r in plan.resources if r.type.endswith(":HealthGate")):
        assert DIGEST_REF.match(gate.inputs["image"])


def test_secrets_are_marked_secret(stack_plan: tuple[str, Plan]) -> None:
    _, plan = stack_plan
    text = json.dumps(plan.as_json())
    # The mocks give generated passwords the value offline-<name>; none may appear in clear.
    assert "offline-secrets-" not in text
    assert "postgresql://" not in text
    migration = one(plan, ":MigrationRun", "migration")
    assert migration.inputs["secret_files"] == "[secret]"
    for container in (
        r
        for r in plan.resources
        if r.type == "docker:index/container:Container" and r.inputs.get("uploads")
    ):
        assert container.inputs["uploads"] == "[secret]", container.name
    for container in (r for r in plan.resources if r.type == "docker:index/container:Container"):
        for env in container.inputs.get("envs") or []:
            name = env.split("=", 1)[0]
            assert not re.search(r"PASSWORD$|SECRET|KEY$|DATABASE_URL$", name), env


def test_database_is_protected(stack_plan: tuple[str, Plan]) -> None:
    _, plan = stack_plan
    database = one(plan, "local:Database", "database")
    children = [r for r in plan.resources if r.parent == database.urn]
    stateful = [
        r
        for r in children
        if r.type in ("docker:index/volume:Volume", "docker:index/container:Container")
    ]
    assert stateful
    for resource in stateful:
        assert resource.protect, f"{resource.name} must be protected"


def test_app_secrets_from_config_print_as_secret(tmp_path: Path) -> None:
    # Edited as YAML on a copy: the tracked file may end with the `encryptionsalt:` line that
    # `pulumi stack select --create` appends, so appending text to it would break the YAML.
    stack_file = tmp_path / "Pulumi.secrets.yaml"
    dev = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    del dev["config"]["releasegate:generatedSecrets"]
    dev["config"]["releasegate:appSecrets"] = {"SIGNING_KEY": {"secure": "v1:AAAA:BBBB"}}
    stack_file.write_text(yaml.safe_dump(dev, sort_keys=False))
    plan = evaluate(load_stack_config("secrets", stack_file))
    api = next(
        r
        for r in plan.resources
        if r.type == "docker:index/container:Container" and r.name == "service-api-container"
    )
    assert api.inputs["uploads"] == "[secret]"
    assert "SIGNING_KEY_FILE=/run/secrets/SIGNING_KEY" in api.inputs["envs"]
    assert "offline-placeholder-secret" not in json.dumps(plan.as_json())


def test_rollback_repin_touches_only_that_service() -> None:
    base = load_stack_config("dev")
    changes = diff_plans(evaluate(base), evaluate(apply_sets(base, ["release.api=v0.9.0"])))
    touched = {c.resource.name for c in changes}
    allowed_prefixes = (
        "pin-api",
        "freeze-guard",
        "service-api",
        "gate-api",
        "release-ledger",
        "release-attempt",
        "build-releasegate-api-v0-9-0",
    )
    assert touched, "a re-pin must change something"
    unexpected = {name for name in touched if not name.startswith(allowed_prefixes)}
    assert not unexpected, f"re-pinning api also touched {sorted(unexpected)}"
    assert {"pin-api", "gate-api", "service-api-container", "release-ledger",
            "release-attempt"} <= touched  # fmt: skip
    for untouched in (
        "migration",
        "pre-migration-snapshot",
        "pin-migrations",
        "database-server",
        "database-data",
        "local-registry",
        "secrets",
        "pin-web",
        "gate-web",
    ):
        assert untouched not in touched


def test_repin_of_migrations_changes_snapshot_and_migration_but_no_service() -> None:
    base = load_stack_config("dev")
    changes = diff_plans(evaluate(base), evaluate(apply_sets(base, ["release.migrations=v1.1.0"])))
    touched = {c.resource.name for c in changes}
    assert {"pin-migrations", "pre-migration-snapshot", "migration"} <= touched
    assert not {name for name in touched if name.startswith(("service-", "gate-", "database"))}


def test_digest_pins_are_refused_when_the_stack_builds_its_images() -> None:
    config = apply_sets(load_stack_config("dev"), ["release.web=sha256:" + "a" * 64])
    with pytest.raises(ConfigError, match="is a digest, but this stack builds its images"):
        evaluate(config)


def test_ledger_records_each_release_with_its_snapshot_and_gate_evidence() -> None:
    plan = plan_for("dev")
    ledger = one(plan, ":ReleaseLedger", "release-ledger")
    release = ledger.inputs["release"]
    assert release["migrations"]["snapshot"] == "pre-migrate-v1.0.0-offline"
    assert release["migrations"]["tag"] == "v1.0.0"
    assert set(release["services"]) == {"api", "web", "worker"}
    for entry in release["services"].values():
        assert DIGEST_REF.match(entry["image"])
        # None values (served_version under mocks) do not cross the wire; the rest must.
        assert {"checked_at", "elapsed_seconds", "consecutive_successes"} <= set(entry["gate"])


def test_restoring_a_snapshot_adds_a_database_and_cuts_services_over() -> None:
    base = load_stack_config("dev")
    restore = apply_sets(base, ["database.restoreFromSnapshot=pre-migrate-v1-0-0-20261122101500"])
    changes = diff_plans(evaluate(base), evaluate(restore))
    by_name = {c.resource.name: c for c in changes}
    created = {name for name, c in by_name.items() if c.kind == "create"}
    assert {"database-restored-data", "database-restored-server"} <= created
    server = by_name["database-restored-server"].resource
    assert server.protect
    assert server.inputs["uploads"] == "[secret]"
    # The live database is never modified or deleted: a restore is a new database.
    assert not {name for name in by_name if name in ("database-server", "database-data")}
    assert not [c for c in changes if c.kind == "delete"]
    # Services get the new DATABASE_URL (a secret: shown as changed, never in clear).
    assert by_name["service-api-container"].changed_inputs["uploads"] == ("[secret]", "[secret]")
    # Only where the migration and snapshot connect changes, and the secrets they redact (the
    # new DATABASE_URL); their providers treat that as no change (tests/docker), so a restore
    # neither migrates nor snapshots again by itself.
    assert set(by_name["migration"].changed_inputs) == {"secret_files", "known_secrets"}
    assert by_name["migration"].changed_inputs["known_secrets"] == ("[secret]", "[secret]")
    assert set(by_name["pre-migration-snapshot"].changed_inputs) == {"backend", "known_secrets"}
