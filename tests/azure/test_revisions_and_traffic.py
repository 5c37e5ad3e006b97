"""The revision identity check and the traffic shift against the local ARM server."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from components.azure import azure_clients
from components.azure.revision_platform import ContainerAppsRevisionProbe
from components.azure.traffic import TrafficShiftProvider
from components.gates.backends import platform_probe
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION

APP = "releasegate-test-api"
NEW, OLD = f"{APP}--rnew", f"{APP}--rold"
IMAGE = "releasegatetest.azurecr.io/releasegate/api@sha256:" + "b" * 64
OLD_IMAGE = "releasegatetest.azurecr.io/releasegate/api@sha256:" + "c" * 64
SETTINGS = {"kind": "containerapps", "subscription_id": SUBSCRIPTION, "resource_group": GROUP,
            "app_name": APP, "revision_name": NEW, "image": IMAGE}  # fmt: skip


@pytest.fixture
def app(arm: ArmServer) -> ArmServer:
    arm.state.apps[APP] = {"traffic": [{"revisionName": OLD, "weight": 100}],
                           "latest_ready": OLD}  # fmt: skip
    arm.state.revisions[OLD] = {"provisioning": "Provisioned", "health": "Healthy",
                                "running": "Running", "image": OLD_IMAGE}  # fmt: skip
    return arm


def revision(arm: ArmServer, **state: Any) -> None:
    arm.state.revisions[NEW] = {"provisioning": "Provisioned", "health": "Healthy",
                                "running": "Running", "image": IMAGE, **state}  # fmt: skip


def test_the_pinned_revision_healthy_and_running_passes(app: ArmServer) -> None:
    revision(app)
    seen = platform_probe("containerapps").observe(SETTINGS)  # through the backends table
    assert seen.healthy, seen.detail
    assert "provisioning=Provisioned, health=Healthy, running=Running" in seen.detail


def test_a_revision_still_provisioning_is_starting(app: ArmServer) -> None:
    revision(app, provisioning="Provisioning", health="None", running="Activating")
    seen = ContainerAppsRevisionProbe().observe(SETTINGS)
    assert seen.starting and not seen.healthy


def test_a_failed_revision_says_the_old_one_still_serves(app: ArmServer) -> None:
    revision(app, provisioning="Failed", health="Unhealthy", running="Failed")
    seen = ContainerAppsRevisionProbe().observe(SETTINGS)
    assert not seen.healthy and not seen.starting
    assert f"revision {NEW} failed" in seen.detail and f"{OLD} still serves" in seen.detail


def test_a_revision_never_created_while_the_old_one_serves(app: ArmServer) -> None:
    seen = ContainerAppsRevisionProbe().observe(SETTINGS)
    assert not seen.healthy
    assert f"revision {NEW} not found" in seen.detail and f"{OLD} serves {APP}" in seen.detail


def test_a_revision_running_another_image_is_not_this_release(app: ArmServer) -> None:
    revision(app, image=OLD_IMAGE)
    seen = ContainerAppsRevisionProbe().observe(SETTINGS)
    assert not seen.healthy and f"pinned {IMAGE}" in seen.detail


def test_an_inactive_revision_serves_nothing_and_fails_the_gate(app: ArmServer) -> None:
    revision(app)
    app.state.revisions[NEW]["active"] = False
    seen = ContainerAppsRevisionProbe().observe(SETTINGS)
    assert not seen.healthy and not seen.starting
    assert f"revision {NEW} is inactive: it serves nothing" in seen.detail


def shift_props(**extra: Any) -> dict[str, Any]:
    return {"subscription_id": SUBSCRIPTION, "resource_group": GROUP, "app_name": APP,
            "revision_name": NEW, "rollout_id": f"{NEW}@1", "keep_warm": True,
            "poll_seconds": 0.1, "timeout_seconds": 10, **extra}  # fmt: skip


def test_traffic_shift_moves_all_traffic_and_keeps_the_previous_revision_warm(
    app: ArmServer,
) -> None:
    revision(app)
    app.state.revisions["releasegate-test-api--rolder"] = {
        "provisioning": "Provisioned", "health": "Healthy", "running": "Running",
        "image": OLD_IMAGE}  # fmt: skip
    outs = TrafficShiftProvider().create(shift_props()).outs
    assert outs is not None and outs["previous_revision"] == OLD
    assert app.state.traffic_updates[-1] == [{"revisionName": NEW, "weight": 100}]
    assert outs["warm_revision"] == OLD and OLD not in app.state.deactivated
    assert app.state.deactivated == ["releasegate-test-api--rolder"]


def test_traffic_shift_without_a_warm_revision_deactivates_the_previous_one(
    app: ArmServer,
) -> None:
    revision(app)
    outs = TrafficShiftProvider().create(shift_props(keep_warm=False)).outs
    assert outs is not None and outs["warm_revision"] is None
    assert app.state.deactivated == [OLD] and app.state.revisions[NEW].get("active", True)


def test_traffic_shift_activates_an_inactive_gated_revision_before_naming_it(
    app: ArmServer,
) -> None:
    revision(app, active=False)
    TrafficShiftProvider().create(shift_props())
    assert app.state.activated == [NEW]
    assert app.state.apps[APP]["traffic"] == [{"revisionName": NEW, "weight": 100}]


def test_the_server_refuses_traffic_on_an_inactive_revision_or_not_summing_to_100(
    app: ArmServer,
) -> None:
    """The rules the shift relies on, as the local server enforces them."""
    revision(app, active=False)
    client = azure_clients.container_apps(SUBSCRIPTION)
    live = client.container_apps.get(GROUP, APP)
    for traffic in ([{"revisionName": NEW, "weight": 100}],
                    [{"revisionName": OLD, "weight": 60}]):  # fmt: skip
        live.configuration.ingress.traffic = traffic
        with pytest.raises(HttpResponseError):
            client.container_apps.begin_update(GROUP, APP, live).result()
    assert app.state.apps[APP]["traffic"] == [{"revisionName": OLD, "weight": 100}]
