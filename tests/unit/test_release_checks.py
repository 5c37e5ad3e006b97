"""The release graph's issue-11 wiring under the Pulumi mocks (the offline plan): snapshot.when,
and the gate's checks, identity and failure budget taken from the stack config."""

from __future__ import annotations

import pytest

from infra.plan import Plan, PlannedResource, apply_sets, diff_plans, evaluate, load_stack_config
from infra.render import plan_text, release_order
from tests.unit.test_program import depends_on, one


def plan(*sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config("dev"), list(sets)))


@pytest.fixture(scope="module")
def default_plan() -> Plan:
    return plan()


@pytest.fixture(scope="module")
def always_plan() -> Plan:
    return plan("snapshot.when=always")


def snapshot(p: Plan) -> PlannedResource:
    return one(p, ":PreMigrationSnapshot", "pre-migration-snapshot")


def test_snapshot_when_migrations_keeps_the_migrations_image_as_trigger(
    default_plan: Plan,
) -> None:
    migration = one(default_plan, ":MigrationRun", "migration")
    assert snapshot(default_plan).inputs["trigger"] == migration.inputs["image"]
    # Saying it explicitly is the same stack: nothing changes.
    assert diff_plans(default_plan, plan("snapshot.when=migrations")) == []


def test_snapshot_when_always_changes_with_any_pin(default_plan: Plan, always_plan: Plan) -> None:
    trigger = snapshot(always_plan).inputs["trigger"]
    assert trigger.startswith("pins:sha256:") and len(trigger) == len("pins:sha256:") + 64
    # Switching to always re-takes the snapshot once (its trigger changes), nothing else.
    switched = {c.resource.name for c in diff_plans(default_plan, always_plan)}
    assert switched == {"pre-migration-snapshot"}
    for pin in ("api", "web", "worker", "migrations"):
        repinned = plan("snapshot.when=always", f"release.{pin}=v0.9.0")
        assert snapshot(repinned).inputs["trigger"] != trigger, pin
    # Under migrations, a service re-pin takes no snapshot.
    repinned = plan("release.api=v0.9.0")
    assert snapshot(repinned).inputs["trigger"] == snapshot(default_plan).inputs["trigger"]


def test_snapshot_when_always_comes_before_services_shipping_before_the_migration() -> None:
    always = plan("snapshot.when=always", 'migration.after=["api"]')
    api = one(always, ":Container", "service-api-container")
    assert depends_on(always, api, snapshot(always))
    migrations = plan('migration.after=["api"]')
    api = one(migrations, ":Container", "service-api-container")
    assert not depends_on(migrations, api, snapshot(migrations))
    assert depends_on(migrations, snapshot(migrations), one(migrations, ":HealthGate", "gate-api"))


def test_gates_get_checks_identity_and_failure_limit(default_plan: Plan) -> None:
    api = one(default_plan, ":HealthGate", "gate-api").inputs
    assert api["checks"] == [
        {"path": "/health/ready", "method": "GET", "expected_status": 200, "assertions": [],
         "carries_version": True}
    ]  # fmt: skip
    assert api["identity"] == {"source": "field", "name": "version"}
    assert api["failure_limit"] == 5
    worker = one(default_plan, ":HealthGate", "gate-worker").inputs
    assert "checks" not in worker and "identity" not in worker  # platform state only


def test_configured_checks_reach_the_gate() -> None:
    p = plan(
        'services.api.checks=[{"path": "/healthz", "assertions": [{"path": "status", '
        '"equals": "ok"}]}, {"path": "/runs", "method": "POST", "body": {"dry_run": true}, '
        '"expectedStatus": 202}]',
        'services.api.identity={"version": "none"}',
        "healthGate.failureLimit=2",
    )
    api = one(p, ":HealthGate", "gate-api").inputs
    assert api["checks"] == [
        {"path": "/healthz", "method": "GET", "expected_status": 200,
         "assertions": [{"path": "status", "op": "equals", "value": "ok"}],
         "carries_version": False},
        {"path": "/runs", "method": "POST", "body": {"dry_run": True}, "expected_status": 202,
         "assertions": [], "carries_version": False},
    ]  # fmt: skip
    assert api["identity"] == {"source": "none"}
    assert api["failure_limit"] == 2


def test_the_plan_shows_checks_identity_and_verify_jobs_in_release_order() -> None:
    p = plan(
        "snapshot.when=always",
        'services.api.verify={"command": ["./scripts/smoke.sh", "--quick"]}',
        'migration.verify={"command": ["sh", "-c", "test \\"$(alembic current)\\" = '
        '\\"$(alembic heads)\\""]}',
        'services.api.checks=[{"path": "/healthz", "assertions": [{"path": "status", '
        '"equals": "ok"}]}, {"path": "/runs", "method": "POST", "body": {"dry_run": true}, '
        '"expectedStatus": 202}, {"path": "/version", "carriesVersion": true}]',
        'services.web.identity={"version": "none"}',
    )
    assert release_order(p) == [
        "1. pin images: api, web, worker, migrations",
        "2. pre-migration snapshot (taken when any pin changes: snapshot.when always)",
        "3. migration",
        '4. migration verify: sh -c \'test "$(alembic current)" = "$(alembic heads)"\'',
        "5. api rollout + gate",
        "6. api verify: ./scripts/smoke.sh --quick",
        "7. web, worker rollouts + gates (side by side)",
        "8. ledger",
    ]
    text = plan_text(p).splitlines()
    start = text.index("Gate checks (every check each probe):")
    assert text[start + 1 : start + 9] == [
        "  api: identity: JSON field version",
        '    GET /healthz -> 200; status equals "ok"',
        '    POST /runs -> 202, body {"dry_run": true}',
        "    GET /version -> 200; carries the version",
        "  web: identity: platform only (the running tasks, containers or revision run the "
        "pinned digest)",
        "    GET /api/health/ready -> 200",
        "  worker: identity: platform only (the running tasks, containers or revision run the "
        "pinned digest); no HTTP checks",
        "note: offline plan: image digests are placeholders derived from each pin; `pulumi "
        "preview` resolves the real ones from the registry",
    ]


@pytest.mark.parametrize(
    ("stack", "platform"),
    [("staging", "ecs"), ("production", "ecs"), ("azure-staging", "containerapps"),
     ("azure-production", "containerapps")],
)  # fmt: skip
def test_checks_identity_budget_and_verify_jobs_reach_aws_and_azure_gates(
    stack: str, platform: str
) -> None:
    """The same wiring on the cloud targets under mocks: the gate gets the configured checks,
    identity `none` (proved by the platform check the target gives it) and the failure budget,
    and the plan lists the verify jobs in release order."""
    p = evaluate(apply_sets(load_stack_config(stack), [
        'services.api.checks=[{"path": "/healthz", "assertions": [{"path": "status", '
        '"equals": "ok"}]}, {"path": "/runs", "method": "POST", "body": {"dry_run": true}, '
        '"expectedStatus": 202}]',
        'services.api.identity={"version": "none"}',
        "healthGate.failureLimit=2",
        'services.api.verify={"command": ["./scripts/smoke.sh"]}',
        'migration.verify={"command": ["alembic", "check"]}',
    ]))  # fmt: skip
    api = one(p, ":HealthGate", "gate-api").inputs
    assert [(c["method"], c["path"], c["expected_status"]) for c in api["checks"]] == [
        ("GET", "/healthz", 200), ("POST", "/runs", 202)]  # fmt: skip
    assert api["checks"][0]["assertions"] == [{"path": "status", "op": "equals", "value": "ok"}]
    assert api["identity"] == {"source": "none"} and api["failure_limit"] == 2
    assert api["platform"]["kind"] == platform
    order = release_order(p)
    steps = [line.split(". ", 1)[1] for line in order]
    assert steps.index("migration") < steps.index("migration verify: alembic check")
    rollout = next(i for i, s in enumerate(steps) if s.startswith("api rollout + gate"))
    assert steps.index("migration verify: alembic check") < rollout
    assert steps[rollout + 1] == "api verify: ./scripts/smoke.sh", order
    assert steps[-1] == "ledger"
