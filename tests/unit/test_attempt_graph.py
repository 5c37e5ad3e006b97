"""The release attempt in the release graph, under Pulumi mocks on every target: created right
after the pins, before anything of the release changes; fed by the environment; in the ledger."""

from __future__ import annotations

import pytest

from infra.plan import Plan, apply_sets, evaluate, load_stack_config
from tests.unit.test_program import depends_on, one


def plan_for(stack: str, *sets: str) -> Plan:
    return evaluate(apply_sets(load_stack_config(stack), list(sets)))


@pytest.mark.parametrize("stack", ["dev", "staging", "azure-staging"])
def test_everything_of_the_release_waits_for_the_attempt_which_waits_for_the_pins(
    stack: str,
) -> None:
    plan = plan_for(stack, "migration.after=[api]")
    attempt = one(plan, ":ReleaseAttempt", "release-attempt")
    for pin in (r for r in plan.resources if r.type.endswith(":ImagePin")):
        assert depends_on(plan, attempt, pin), pin.name
    for waits in (
        one(plan, ":PreMigrationSnapshot", "pre-migration-snapshot"),
        one(plan, ":MigrationRun", "migration"),
        one(plan, ":HealthGate", "gate-api"),  # ships before the migration here
        one(plan, ":HealthGate", "gate-web"),
        one(plan, ":ReleaseLedger", "release-ledger"),
    ):
        assert depends_on(plan, waits, attempt), waits.name
    api_rollouts = [r for r in plan.resources if r.name.startswith("service-api")
                    and not r.type.endswith(":HealthGate")]  # fmt: skip
    assert api_rollouts and all(depends_on(plan, r, attempt) for r in api_rollouts)


def test_the_attempt_gets_the_actor_override_and_rollback_marker_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    monkeypatch.setenv("RELEASEGATE_OVERRIDE_REASON", "re-ship after a DNS blip")
    monkeypatch.setenv("RELEASEGATE_ROLLBACK_OF", "0123abcd4567")
    plan = plan_for("staging")
    inputs = one(plan, ":ReleaseAttempt", "release-attempt").inputs
    assert inputs["actor"] == "octocat"
    assert inputs["overrides"] == [{"kind": "failed-pin", "reason": "re-ship after a DNS blip"}]
    assert inputs["rollback_of"] == "0123abcd4567"
    assert set(inputs["release"]) == {"services", "migrations"}
    ledger = one(plan, ":ReleaseLedger", "release-ledger").inputs
    assert ledger["release"]["attempt"]["actor"] == "octocat"
    assert ledger["release"]["attempt"]["rollback_of"] == "0123abcd4567"


def test_without_the_environment_nothing_is_overridden_or_rolled_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("RELEASEGATE_OVERRIDE_REASON", "RELEASEGATE_ROLLBACK_OF"):
        monkeypatch.delenv(name, raising=False)
    inputs = one(plan_for("dev"), ":ReleaseAttempt", "release-attempt").inputs
    assert inputs["overrides"] == [] and inputs.get("rollback_of") is None


def test_promoted_from_is_recorded_only_for_images_whose_digest_is_pinned() -> None:
    from infra.release import promoted_record  # noqa: PLC0415

    release = {"services": {"api": {"digest": "sha256:a"}, "web": {"digest": "sha256:w"}},
               "migrations": {"digest": "sha256:m"}}  # fmt: skip
    promoted = {"stack": "staging", "release": "r1",
                "pins": {"api": "sha256:a", "web": "sha256:old"}}  # fmt: skip
    assert promoted_record(promoted, release) == {
        "stack": "staging", "release": "r1", "pins": {"api": "sha256:a"}}  # fmt: skip
    assert promoted_record({**promoted, "pins": {"web": "sha256:old"}}, release) is None
    assert promoted_record(None, release) is None


def test_a_foundation_only_stack_has_no_attempt() -> None:
    plan = plan_for("dev", "release={}")
    assert not [r for r in plan.resources if r.type.endswith(":ReleaseAttempt")]
