"""Single-revision mode against the local ARM server: a healthy revision running the pinned
image passes only once it is also the one serving and no older revision still runs."""

from __future__ import annotations

from typing import Any

from components.azure.revision_platform import ContainerAppsRevisionProbe
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION

APP = "releasegate-test-api"
OLD, NEW = f"{APP}--rold", f"{APP}--rnew"
V1 = "releasegatetest.azurecr.io/releasegate/api@sha256:" + "1" * 64
V2 = "releasegatetest.azurecr.io/releasegate/api@sha256:" + "2" * 64
SETTINGS = {"kind": "containerapps", "subscription_id": SUBSCRIPTION, "resource_group": GROUP,
            "app_name": APP, "revision_name": NEW, "image": V2, "exclusive": True}  # fmt: skip
HEALTHY = {"provisioning": "Provisioned", "health": "Healthy", "running": "Running", "app": APP}


def single_app(arm: ArmServer, serving: str, **old: Any) -> None:
    arm.state.apps[APP] = {"mode": "Single", "latest_ready": serving,
                           "traffic": [{"latestRevision": True, "weight": 100}]}  # fmt: skip
    arm.state.revisions[OLD] = {**HEALTHY, "image": V1, **old}
    arm.state.revisions[NEW] = {**HEALTHY, "image": V2}


def test_the_new_revision_serving_alone_passes(arm: ArmServer) -> None:
    single_app(arm, serving=NEW, active=False)  # the platform deactivated the old one
    seen = ContainerAppsRevisionProbe().observe(SETTINGS)
    assert seen.healthy, seen.detail
    assert seen.detail.endswith("runs sha256:222222222222")


def test_an_older_revision_still_serving_and_running_is_not_yet(arm: ArmServer) -> None:
    """Healthy and on the pinned image, but the platform has not switched yet: the old build
    still serves and runs a replica, so the gate waits (and fails if it never switches)."""
    single_app(arm, serving=OLD)
    seen = ContainerAppsRevisionProbe().observe(SETTINGS)
    assert not seen.healthy and seen.starting
    assert (f"not yet the only version: {OLD} serves the app, still running: {OLD} ({V1}): "
            "1 replica(s)") in seen.detail  # fmt: skip


def test_without_exclusive_the_old_revision_is_left_to_the_traffic_shift(arm: ArmServer) -> None:
    """Multiple mode: the old revision keeps the traffic until the gate passed, by design."""
    single_app(arm, serving=OLD)
    assert ContainerAppsRevisionProbe().observe({**SETTINGS, "exclusive": None}).healthy
