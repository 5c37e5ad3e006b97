"""A worker drained to 0 replicas on Container Apps, against the local ARM server: the scale ARM
accepts (it refuses maxReplicas 0), the revision that holds the pinned image at zero replicas,
and a gate that passes only once no revision, older ones in particular, runs a replica."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.appcontainers.models import ContainerApp

from components.azure import azure_clients
from components.azure.app import app_revision_mode, fingerprint, template_json
from components.azure.revision_platform import ContainerAppsRevisionProbe
from components.azure.revision_rollout import RevisionRolloutProvider
from components.azure.spec import RevisionMode
from components.gates.health_gate import HealthGateProvider
from components.gates.http_probe import HealthGateError
from infra.settings import ServiceSpec
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION

APP = "releasegate-test-worker"
WORKER = ServiceSpec(name="worker", repository="releasegate/worker", port=None,
                     health_path=None, replicas=1, cpu=256, memory=512, command=("run",),
                     after=(), env={}, secrets=())  # fmt: skip
DRAINED = ServiceSpec(**{**WORKER.__dict__, "replicas": 0})
V1 = "releasegatetest.azurecr.io/releasegate/worker@sha256:" + "1" * 64
V2 = "releasegatetest.azurecr.io/releasegate/worker@sha256:" + "2" * 64


def put(template: dict[str, Any], mode: str) -> None:
    """The app's PUT as azure-native sends it for a worker: no ingress."""
    body = ContainerApp({"location": "westeurope", "properties": {
        "configuration": {"activeRevisionsMode": mode}, "template": template}})  # fmt: skip
    azure_clients.container_apps(SUBSCRIPTION).container_apps.begin_create_or_update(
        GROUP, APP, body
    ).result()


def roll_out(spec: ServiceSpec, image: str, mode: str) -> dict[str, Any]:
    """RevisionRollout, then the app's PUT of the template it chose; returns the rollout."""
    template = template_json(spec, image)
    props = {"subscription_id": SUBSCRIPTION, "resource_group": GROUP, "app_name": APP,
             "revision_mode": mode.lower(), "template": template,
             "fingerprint": fingerprint({"template": template, "secrets": []}),
             "config_fingerprint": f"config-{mode}"}  # fmt: skip
    rollout = RevisionRolloutProvider().create(props).outs
    assert rollout is not None
    put(rollout["applied_template"], mode)
    return dict(rollout)


def platform(rollout: dict[str, Any], image: str, replicas: int | None) -> dict[str, Any]:
    settings = {"kind": "containerapps", "subscription_id": SUBSCRIPTION,
                "resource_group": GROUP, "app_name": APP,
                "revision_name": rollout["revision_name"], "image": image}  # fmt: skip
    return settings if replicas is None else {**settings, "replicas": replicas}


def gate(rollout: dict[str, Any], image: str) -> dict[str, Any]:
    """The worker's gate (platform only) with a short deadline; returns its outputs."""
    props = {"service": "worker", "image": image, "expected_versions": ["v2"], "url": None,
             "interval_seconds": 0.05, "success_threshold": 2, "failure_threshold": 2,
             "startup_seconds": 0.3, "deadline_seconds": 3, "rollout": rollout["rollout_id"],
             "platform": platform(rollout, image, 0)}  # fmt: skip
    outs = HealthGateProvider().create(props).outs
    assert outs is not None
    return dict(outs)


def test_arm_refuses_max_replicas_zero_and_the_drained_template_avoids_it(arm: ArmServer) -> None:
    zero = {**template_json(WORKER, V1), "scale": {"minReplicas": 0, "maxReplicas": 0}}
    with pytest.raises(HttpResponseError, match="maxReplicas must not be less than minReplicas"):
        put(zero, "Single")
    drained = template_json(DRAINED, V1)
    assert drained["scale"] == {"minReplicas": 0, "maxReplicas": 1} and "rules" not in drained
    put(drained, "Single")  # accepted


def test_a_worker_repinned_at_zero_drains_without_waiting_for_a_replica(arm: ArmServer) -> None:
    """v1 runs one replica (multiple mode); v2 at 0 replicas: single mode deactivates v1, the
    new revision has no replica and no health to report, and the gate passes on that."""
    first = roll_out(WORKER, V1, "Multiple")
    assert arm.state.revisions[first["revision_name"]].get("replicas", 1) == 1
    arm.state.new_revision_states[V2] = {"provisioning": "Provisioned", "health": "None",
                                         "running": "Stopped"}  # fmt: skip
    second = roll_out(DRAINED, V2, "Single")
    assert not arm.state.revisions[first["revision_name"]]["active"]
    outs = gate(second, V2)
    details = [o["detail"] for o in outs["evidence"]["observations"]]
    assert details[-1] == (f"platform: drained: no revision runs a replica; "
                           f"{second['revision_name']} holds the pinned image, runs "
                           f"sha256:222222222222 at 0 replicas")  # fmt: skip


def test_an_older_revision_still_running_fails_the_drained_gate(arm: ArmServer) -> None:
    first = roll_out(WORKER, V1, "Multiple")
    second = roll_out(DRAINED, V2, "Single")
    arm.state.revisions[first["revision_name"]].update(active=True, replicas=1)  # still runs
    with pytest.raises(HealthGateError) as failed:
        gate(second, V2)
    message = str(failed.value)
    still = f"0 replicas, but revisions still run: {first['revision_name']} ({V1}): 1 replica(s)"
    assert still in message
    arm.state.revisions[first["revision_name"]].update(active=False)  # stopped at last
    assert gate(second, V2)["evidence"]["consecutive_successes"] == 2


def test_a_drained_revision_on_another_image_is_not_this_release(arm: ArmServer) -> None:
    rollout = roll_out(DRAINED, V1, "Single")
    seen = ContainerAppsRevisionProbe().observe(platform(rollout, V2, 0))
    assert not seen.healthy and not seen.starting and f"pinned {V2}" in seen.detail


def test_a_serving_revision_names_the_digest_it_proved(arm: ArmServer) -> None:
    rollout = roll_out(WORKER, V1, "Single")
    seen = ContainerAppsRevisionProbe().observe(platform(rollout, V1, None))
    assert seen.healthy and seen.detail.endswith("running=Running, runs sha256:111111111111")


def exclusive_gate(rollout: dict[str, Any], image: str) -> dict[str, Any]:
    """A running worker's gate as the Azure target asks for it: platform only, `exclusive`."""
    props = {"service": "worker", "image": image, "expected_versions": ["v2"], "url": None,
             "interval_seconds": 0.05, "success_threshold": 2, "failure_threshold": 2,
             "startup_seconds": 0.3, "deadline_seconds": 3, "rollout": rollout["rollout_id"],
             "platform": {**platform(rollout, image, None), "exclusive": True}}  # fmt: skip
    outs = HealthGateProvider().create(props).outs
    assert outs is not None
    return dict(outs)


def test_in_multiple_mode_a_workers_old_revision_would_keep_running(arm: ArmServer) -> None:
    """Why a worker never runs multiple mode: no traffic moves for a worker, so its older
    revision stays active and running beside the new one after the release."""
    first = roll_out(WORKER, V1, "Multiple")
    roll_out(WORKER, V2, "Multiple")
    old = arm.state.revisions[first["revision_name"]]
    assert old["active"] and old.get("replicas", 1) == 1


def test_a_worker_runs_single_mode_and_its_gate_waits_for_the_old_revision(
    arm: ArmServer,
) -> None:
    """In a multiple-mode stack a worker (no ingress) still runs single mode: the platform
    deactivates v1 once v2 is ready, and the gate passes only when no older revision runs a
    replica; one that keeps running fails it, naming the revision and its image."""
    mode = app_revision_mode(WORKER, RevisionMode.MULTIPLE)
    assert mode is RevisionMode.SINGLE
    assert app_revision_mode(DRAINED, RevisionMode.MULTIPLE) is RevisionMode.SINGLE
    first = roll_out(WORKER, V1, "Single")
    second = roll_out(WORKER, V2, "Single")
    assert not arm.state.revisions[first["revision_name"]]["active"]
    outs = exclusive_gate(second, V2)
    assert outs["evidence"]["consecutive_successes"] == 2
    # The platform has not deactivated v1 (it waits for v2 to be ready) and never does.
    arm.state.revisions[first["revision_name"]].update(active=True, replicas=1)
    with pytest.raises(HealthGateError) as failed:
        exclusive_gate(second, V2)
    assert f"not yet the only version: still running: {first['revision_name']}" in str(
        failed.value
    )
