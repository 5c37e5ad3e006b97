"""Whole release sequences of one Container App in multiple-revision mode against the local ARM
server, each `up` as Pulumi runs it: RevisionRollout (when its inputs changed) -> the app's PUT
(when its inputs changed, as azure-native sends it) -> the gate (when its inputs changed
against its last passed state) -> TrafficShift (only after a passed gate)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.appcontainers.models import ContainerApp

from components.azure import azure_clients
from components.azure.app import fingerprint, template_json
from components.azure.revision_rollout import RevisionRolloutProvider
from components.azure.traffic import TrafficShiftProvider
from components.gates.health_gate import HealthGateProvider
from components.gates.http_probe import HealthGateError
from infra.settings import ServiceSpec
from tests.azure.arm_server import ArmServer
from tests.azure.conftest import GROUP, SUBSCRIPTION

APP = "releasegate-test-api"
SPEC = ServiceSpec(name="api", repository="releasegate/api", port=8000,
                   health_path="/health/ready", replicas=2, cpu=512, memory=1024, command=None,
                   after=(), env={"LOG_LEVEL": "info"}, secrets=("DATABASE_URL",))  # fmt: skip


def image(version: str) -> str:
    return f"releasegatetest.azurecr.io/releasegate/api@sha256:{version * 64}"


V1, V2, V3 = image("1"), image("2"), image("3")


@dataclass
class Stack:
    """Pulumi state of one service between `up`s: each resource's last applied inputs/outputs."""

    arm: ArmServer
    rollout: dict[str, Any] | None = None
    app_inputs: tuple[Any, ...] | None = None
    gate: dict[str, Any] | None = None
    shift: dict[str, Any] | None = None
    puts: list[str | None] = field(default_factory=list)
    keep_warm: bool = True
    mode: str = "multiple"

    def up(self, pinned: str, rotation: int = 1) -> dict[str, Any]:
        """One `pulumi up`; returns what happened. A failed gate raises HealthGateError and
        leaves the state as Pulumi does (the gate and the shift keep their last good state)."""
        template = template_json(SPEC, pinned)
        props = {"subscription_id": SUBSCRIPTION, "resource_group": GROUP, "app_name": APP,
                 "revision_mode": self.mode, "template": template,
                 "fingerprint": fingerprint({"template": template, "secrets": [f"v{rotation}"]}),
                 "config_fingerprint": "config-1"}  # fmt: skip
        provider = RevisionRolloutProvider()
        started = time.monotonic()
        if self.rollout is None:
            self.rollout = provider.create(props).outs
        elif provider.diff("r", self.rollout, props).changes:
            self.rollout = provider.update("r", self.rollout, props).outs
        assert self.rollout is not None
        app_inputs = (self.rollout["applied_template"], self.rollout["traffic"])
        if app_inputs != self.app_inputs:  # azure-native PUTs only when its inputs changed
            self._put(*app_inputs)
            self.app_inputs = app_inputs
        gate_props = {"service": "api", "image": pinned, "expected_versions": ["v"],
                      "url": None, "interval_seconds": 0.05, "success_threshold": 2,
                      "failure_threshold": 2, "startup_seconds": 1, "deadline_seconds": 5,
                      "rollout": self.rollout["rollout_id"],
                      "platform": {"kind": "containerapps", "subscription_id": SUBSCRIPTION,
                                   "resource_group": GROUP, "app_name": APP,
                                   "revision_name": self.rollout["revision_name"],
                                   "image": pinned}}  # fmt: skip
        gate = HealthGateProvider()
        if self.gate is None:
            self.gate = gate.create(gate_props).outs
        elif gate.diff("g", self.gate, gate_props).changes:
            self.gate = gate.update("g", self.gate, gate_props).outs
        if self.mode == "single":  # no TrafficShift: the platform moves traffic itself
            return {"seconds": time.monotonic() - started, **self.rollout}
        shift_props = {"subscription_id": SUBSCRIPTION, "resource_group": GROUP, "app_name": APP,
                       "revision_name": self.rollout["revision_name"],
                       "rollout_id": self.rollout["rollout_id"], "keep_warm": self.keep_warm,
                       "poll_seconds": 0.05, "timeout_seconds": 5}  # fmt: skip
        shift = TrafficShiftProvider()
        if self.shift is None:
            self.shift = shift.create(shift_props).outs
        elif shift.diff("s", self.shift, shift_props).changes:
            self.shift = shift.update("s", self.shift, shift_props).outs
        return {"seconds": time.monotonic() - started, **self.rollout}

    def _put(self, template: dict[str, Any], traffic: list[dict[str, Any]]) -> None:
        client = azure_clients.container_apps(SUBSCRIPTION)
        body = ContainerApp({"location": "westeurope", "properties": {
            "configuration": {"activeRevisionsMode": self.mode.capitalize(),
                              "ingress": {"external": True, "targetPort": 8000,
                                          "traffic": traffic}},
            "template": template}})  # fmt: skip
        client.container_apps.begin_create_or_update(GROUP, APP, body).result()
        self.puts.append(template.get("revisionSuffix"))


def serving(arm: ArmServer) -> str:
    (weight,) = arm.state.apps[APP]["traffic"]
    assert weight["weight"] == 100
    return str(weight.get("revisionName") or arm.state.apps[APP]["latest_ready"])


def active(arm: ArmServer) -> set[str]:
    return {n for n, r in arm.state.revisions.items() if r.get("active", True)}


def test_repin_to_the_warm_revision_reuses_it_and_moves_traffic_back(arm: ArmServer) -> None:
    stack = Stack(arm)
    first = stack.up(V1)
    second = stack.up(V2)
    assert second["revision_name"] != first["revision_name"]
    assert serving(arm) == second["revision_name"]
    assert active(arm) == {first["revision_name"], second["revision_name"]}  # v1 warm
    revisions_before = set(arm.state.revisions)
    puts_before = len(stack.puts)
    back = stack.up(V1)  # the rollback
    assert back["reused"] and back["revision_name"] == first["revision_name"]
    assert set(arm.state.revisions) == revisions_before  # no new revision, no container start
    assert len(stack.puts) == puts_before + 1  # only the traffic input of the app changed...
    assert arm.state.app_writes[-1]["created"] is None  # ...and that PUT created nothing
    assert stack.gate is not None and stack.gate["rollout"] == back["rollout_id"]  # re-gated
    assert serving(arm) == first["revision_name"]
    assert active(arm) == {first["revision_name"], second["revision_name"]}  # v2 now warm
    print(f"\nrollback to the warm revision: {back['seconds']:.3f}s from the first provider "
          "call to traffic moved (local ARM server; gate: 2 successes 0.05 s apart)")  # fmt: skip
    assert back["seconds"] < 5


def test_repin_after_the_old_revision_was_deactivated_gets_a_fresh_name(arm: ArmServer) -> None:
    stack = Stack(arm)
    first = stack.up(V1)
    stack.up(V2)
    third = stack.up(V3)
    assert first["revision_name"] not in active(arm)  # older than the warm one: deactivated
    assert len(active(arm)) == 2
    again = stack.up(V1)
    assert not again["reused"]
    assert again["revision_name"] != first["revision_name"]  # never a used suffix
    assert again["revision_name"].startswith(first["revision_name"].rsplit("-", 1)[0])
    assert serving(arm) == again["revision_name"]
    assert active(arm) == {again["revision_name"], third["revision_name"]}
    assert len(again["revision_name"]) <= 54


def test_a_secret_only_change_is_a_new_revision_gated_before_traffic_moves(
    arm: ArmServer,
) -> None:
    stack = Stack(arm)
    first = stack.up(V1)
    arm.state.new_revision_states[V1] = {"provisioning": "Provisioning", "health": "None",
                                         "running": "Processing"}  # fmt: skip
    with pytest.raises(HealthGateError):  # the new revision never gets healthy in time
        stack.up(V1, rotation=2)
    assert stack.rollout is not None
    rotated = stack.rollout["revision_name"]
    assert rotated != first["revision_name"] and rotated in arm.state.revisions
    assert serving(arm) == first["revision_name"]  # held on the serving one
    arm.state.revisions[rotated].update(provisioning="Provisioned", health="Healthy",
                                        running="Running")  # fmt: skip
    stack.up(V1, rotation=2)  # the next up: gate passes, then traffic moves
    assert serving(arm) == rotated


def test_a_failed_gate_leaves_traffic_where_it_was(arm: ArmServer) -> None:
    stack = Stack(arm)
    first = stack.up(V1)
    updates = len(arm.state.traffic_updates)
    arm.state.new_revision_states[V2] = {"provisioning": "Failed", "health": "Unhealthy",
                                         "running": "Failed"}  # fmt: skip
    with pytest.raises(HealthGateError, match="failed"):
        stack.up(V2)
    assert serving(arm) == first["revision_name"]
    # the app's PUT carried the same pinned traffic; no shift ran
    assert all(t == [{"revisionName": first["revision_name"], "weight": 100}]
               for t in arm.state.traffic_updates[updates:])  # fmt: skip
    back = stack.up(V1)  # rollback after the failed release: the serving revision, gated again
    assert back["reused"] and back["revision_name"] == first["revision_name"]
    assert serving(arm) == first["revision_name"]
    assert not any(arm.state.revisions[n]["active"] for n in arm.state.revisions
                   if arm.state.revisions[n]["image"] == V2)  # fmt: skip


def test_without_a_warm_revision_only_the_serving_one_stays_active(arm: ArmServer) -> None:
    stack = Stack(arm, keep_warm=False)
    stack.up(V1)
    second = stack.up(V2)
    assert active(arm) == {second["revision_name"]}


def test_the_server_refuses_a_revision_suffix_already_used_on_the_app(arm: ArmServer) -> None:
    stack = Stack(arm)
    first = stack.up(V1)
    stack.up(V2)
    template = {**template_json(SPEC, V3),
                "revisionSuffix": first["revision_name"].split("--", 1)[1]}  # fmt: skip
    with pytest.raises(HttpResponseError, match=r"revision with suffix \S+ already exists"):
        stack._put(template, [{"revisionName": serving(arm), "weight": 100}])


def test_single_revision_mode_always_gets_a_new_uniquely_named_revision(arm: ArmServer) -> None:
    stack = Stack(arm, mode="single")
    names = [stack.up(pin)["revision_name"] for pin in (V1, V2, V1)]
    assert len(set(names)) == 3  # the re-pin to v1 is a new revision, never v1's old name
    assert active(arm) == {names[-1]}  # single mode: the platform keeps one active
    assert arm.state.apps[APP]["traffic"] == [{"latestRevision": True, "weight": 100}]
