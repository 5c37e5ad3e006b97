"""The revision identity check and the traffic hold/shift against the local ARM server."""

from __future__ import annotations

from typing import Any

import pytest

from components.azure.revision_platform import ContainerAppsRevisionProbe
from components.azure.traffic import TrafficHoldProvider, TrafficShiftProvider
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


def revision(arm: ArmServer, **state: str) -> None:
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


def hold_props(image: str = IMAGE) -> dict[str, Any]:
    return {"subscription_id": SUBSCRIPTION, "resource_group": GROUP, "app_name": APP,
            "image": image}  # fmt: skip


def test_traffic_hold_reports_the_serving_revision_or_none_before_the_app_exists(
    arm: ArmServer,
) -> None:
    outs = TrafficHoldProvider().create(hold_props()).outs
    assert outs is not None and outs["stable_revision"] is None  # first deploy
    arm.state.apps[APP] = {"traffic": [{"latestRevision": True, "weight": 100}],
                           "latest_ready": OLD}  # fmt: skip
    again = TrafficHoldProvider().update("hold", hold_props(), hold_props(OLD_IMAGE)).outs
    assert again is not None and again["stable_revision"] == OLD


def test_traffic_shift_moves_all_traffic_to_the_gated_revision(app: ArmServer) -> None:
    revision(app)
    props = {"subscription_id": SUBSCRIPTION, "resource_group": GROUP, "app_name": APP,
             "revision_name": NEW, "poll_seconds": 0.1, "timeout_seconds": 10}  # fmt: skip
    outs = TrafficShiftProvider().create(props).outs
    assert outs is not None and outs["previous_revision"] == OLD
    assert app.state.traffic_updates[-1] == [{"revisionName": NEW, "weight": 100}]
    assert TrafficHoldProvider().create(hold_props()).outs["stable_revision"] == NEW  # type: ignore[index]
