"""The role assignment propagation wait against the local ARM server, whose new assignments are
not effective (not readable, not usable by the job's identity) for their first calls."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from components.azure import azure_clients
from components.azure.role_ready import RoleNotReadyError, RoleReadyProvider
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION
from tests.azure.jobs import ASSIGNMENT, JOB, PRINCIPAL, SECRET_SCOPE, register_job

IDENTITY_NAME = "releasegate-test-migrate"


def props(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "subscription_id": SUBSCRIPTION, "identity": IDENTITY_NAME, "principal_id": PRINCIPAL,
        "assignments": [{"id": ASSIGNMENT, "role": "Key Vault Secrets User",
                         "scope": SECRET_SCOPE}],
        "timeout_seconds": 10, "settle_seconds": 0, "poll_seconds": 0.01, "consecutive": 2,
    }  # fmt: skip
    values.update(overrides)
    return values


def test_a_start_right_after_the_assignment_is_refused(arm: ArmServer) -> None:
    """Without the wait: what a first deploy meets on Azure."""
    register_job(arm, pending=3)
    client = azure_clients.container_apps(SUBSCRIPTION)
    with pytest.raises(HttpResponseError, match="Unable to get value using Managed identity"):
        client.jobs.begin_start(GROUP, JOB).result(timeout=10)
    assert not arm.state.ran


def test_the_wait_reads_the_assignment_until_it_is_readable_in_a_row(arm: ArmServer) -> None:
    register_job(arm, pending=3)
    outs = RoleReadyProvider().create(props()).outs or {}
    assert outs["reads"] == {ASSIGNMENT: 5}  # 3 misses, then 2 in a row
    assert outs["ready_at"]
    client = azure_clients.container_apps(SUBSCRIPTION)
    client.jobs.begin_start(GROUP, JOB).result(timeout=10)  # first attempt, no refusal
    assert len(arm.state.started) == 1 and len(arm.state.ran) == 1


def test_a_new_assignment_settles_from_its_creation_time(arm: ArmServer) -> None:
    register_job(arm)
    now = datetime.now(UTC)
    arm.state.role_assignments[ASSIGNMENT]["createdOn"] = (
        now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}1Z"
    )  # 7 digits, as ARM
    started = time.monotonic()
    outs = RoleReadyProvider().create(props(settle_seconds=1.0)).outs or {}
    assert 0.5 < outs["settled_seconds"] <= 1.0
    assert time.monotonic() - started >= outs["settled_seconds"]


def test_an_assignment_older_than_the_settle_period_needs_no_sleep(arm: ArmServer) -> None:
    """Assignments the foundation `up` created minutes before the first release."""
    register_job(arm)
    arm.state.role_assignments[ASSIGNMENT]["createdOn"] = "2020-01-01T00:00:00.1234567Z"
    outs = RoleReadyProvider().create(props(settle_seconds=30)).outs or {}
    assert outs["settled_seconds"] == 0


def test_without_a_creation_time_the_whole_settle_period_passes(arm: ArmServer) -> None:
    register_job(arm)
    started = time.monotonic()
    outs = RoleReadyProvider().create(props(settle_seconds=0.5)).outs or {}
    assert outs["settled_seconds"] == 0.5 and time.monotonic() - started >= 0.5


def test_an_assignment_never_readable_fails_naming_identity_and_role(arm: ArmServer) -> None:
    register_job(arm, pending=10**6)
    started = time.monotonic()
    with pytest.raises(RoleNotReadyError) as failure:
        RoleReadyProvider().create(props(timeout_seconds=0.5, settle_seconds=30))
    assert time.monotonic() - started < 5  # bounded; the settle period counts against it
    message = str(failure.value)
    assert f"identity {IDENTITY_NAME} (principal {PRINCIPAL})" in message
    assert f"role Key Vault Secrets User on {SECRET_SCOPE}" in message
    assert "last answer: HTTP 404" in message


def test_an_assignment_of_another_principal_is_not_ready(arm: ArmServer) -> None:
    register_job(arm)
    arm.state.role_assignments[ASSIGNMENT]["principalId"] = "someone-else"
    with pytest.raises(RoleNotReadyError, match="last answer: principal someone-else"):
        RoleReadyProvider().create(props(timeout_seconds=0.3))


def test_an_unchanged_assignment_needs_no_wait_and_a_new_one_only_its_own(
    arm: ArmServer,
) -> None:
    register_job(arm)
    provider = RoleReadyProvider()
    olds = provider.create(props()).outs or {}
    assert provider.diff("roles", olds, props()).changes is False
    # the existing assignment would now never be readable: an update must not poll it
    arm.state.role_assignments[ASSIGNMENT]["pending"] = 10**6
    second = f"{SECRET_SCOPE}-2/providers/Microsoft.Authorization/roleAssignments/x"
    arm.state.role_assignments[second] = {"scope": f"{SECRET_SCOPE}-2",
                                          "principalId": PRINCIPAL, "roleDefinitionId": "r",
                                          "pending": 1}  # fmt: skip
    news = props(
        assignments=[
            *props()["assignments"],
            {"id": second, "role": "AcrPull", "scope": f"{SECRET_SCOPE}-2"},
        ]
    )
    assert provider.diff("roles", olds, news).changes is True
    assert (provider.update("roles", olds, news).outs or {})["reads"] == {second: 3}
