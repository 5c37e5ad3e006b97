"""Secrets stay secret: what the gates and the migration keep is a secret output, every target
hands them every secret value the stack knows (as a Pulumi secret), and they mask those values
in log tails, observations and error messages even where secrets reach tasks by reference."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from pulumi.runtime import rpc

from components.gates import backends
from components.gates.backends import (
    MigrationRequest,
    MigrationResult,
    PlatformObservation,
    SnapshotRecord,
    SnapshotRequest,
)
from components.gates.health_gate import HealthGateProvider, run_gate_for
from components.gates.http_probe import HealthGateError
from components.gates.migration_run import MigrationFailedError, MigrationRunProvider
from components.gates.snapshot import PreMigrationSnapshotProvider, SnapshotFailedError
from infra.plan import PlanMocks, RecordingMonitor, evaluate, load_stack_config
from infra.render import plan_json, plan_text

PASSWORD = "Pa55word-with/odd@chars"
DATABASE_URL = "postgresql://app:Pa55word-with%2Fodd%40chars@db.internal:5432/app"
APP_SECRET = "app-signing-key-0123456789"
KNOWN = [DATABASE_URL, PASSWORD, APP_SECRET]
IMAGE = "registry.example/releasegate/migrations@sha256:" + "a" * 64


# --- under mocks: what the program registers, on every cloud ------------------------------


class SecretRecordingMonitor(RecordingMonitor):
    """Also keeps, per resource name, `additionalSecretOutputs` and the raw (unmasked)
    `known_secrets` input with whether it crossed the wire as a secret."""

    def __init__(self) -> None:
        super().__init__(PlanMocks())
        self.secret_outputs: dict[str, set[str]] = {}
        self.known: dict[str, tuple[bool, list[str]]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.secret_outputs[request.name] = set(request.additionalSecretOutputs)
        inputs = rpc.deserialize_properties(request.object)
        if "known_secrets" in inputs:
            raw = inputs["known_secrets"]
            secret = rpc.is_rpc_secret(raw)
            self.known[request.name] = (secret, list(rpc.unwrap_rpc_secret(raw) or []))
        return super().RegisterResource(request)


STACKS = ["dev", "production", "azure-production"]


@pytest.fixture(scope="module", params=STACKS)
def registered(request: pytest.FixtureRequest) -> Iterator[tuple[str, SecretRecordingMonitor]]:
    config = load_stack_config(request.param)
    monitor = SecretRecordingMonitor()
    monitor.mocks = PlanMocks(config.values)
    evaluate(config, monitor)
    yield request.param, monitor


def _gates(monitor: SecretRecordingMonitor) -> list[str]:
    return [r.name for r in monitor.records if r.type.endswith(":HealthGate")]


def test_log_tail_and_gate_evidence_are_secret_outputs(
    registered: tuple[str, SecretRecordingMonitor],
) -> None:
    _, monitor = registered
    assert {"log_tail", "secret_files"} <= monitor.secret_outputs["migration"]
    gates = _gates(monitor)
    assert gates
    for gate in gates:
        assert "evidence" in monitor.secret_outputs[gate], gate


def test_every_gate_snapshot_and_migration_gets_every_known_secret_as_a_secret(
    registered: tuple[str, SecretRecordingMonitor],
) -> None:
    stack, monitor = registered
    takers = ["migration", "pre-migration-snapshot", *_gates(monitor)]
    for name in takers:
        secret, values = monitor.known[name]
        assert secret, f"{stack}: {name}.known_secrets is not a Pulumi secret"
        # The mocks generate the database password as offline-<resource name>; DATABASE_URL
        # embeds it; the dev stack's generated SIGNING_KEY and the clouds' app secrets too.
        assert any(v.startswith("offline-secrets-database-password") for v in values), values
        assert any(v.startswith("postgresql://") for v in values), (stack, name)
    assert set(monitor.known) == set(takers), "known_secrets on something else"


def test_known_secrets_print_as_secret_in_the_plan(
    registered: tuple[str, SecretRecordingMonitor],
) -> None:
    stack, _ = registered
    plan = evaluate(load_stack_config(stack))
    text, document = plan_text(plan), plan_json(plan)
    for resource in plan.resources:
        if "known_secrets" in resource.inputs:
            assert resource.inputs["known_secrets"] == "[secret]"
    for shown in (text, document):
        assert "offline-secrets-database-password" not in shown
        assert "postgresql://" not in shown


def test_the_ledger_keeps_a_readable_gate_summary(
    registered: tuple[str, SecretRecordingMonitor],
) -> None:
    _, monitor = registered
    ledger = next(r for r in monitor.records if r.type.endswith(":ReleaseLedger"))
    for entry in ledger.inputs["release"]["services"].values():
        assert entry["gate"] != "[secret]"
        assert {"checked_at", "elapsed_seconds", "consecutive_successes"} <= set(entry["gate"])


# --- the providers, called directly ---------------------------------------------------------


LOG = (
    f"connecting: host=db.internal user=app password={PASSWORD} dbname=app\n"
    f"DATABASE_URL={DATABASE_URL}\n"
    f"signing with {APP_SECRET}\n"
    "migration finished"
)


class RecordingBackend:
    """A migration backend reporting LOG unredacted, as a careless platform would."""

    requests: ClassVar[list[MigrationRequest]] = []
    exit_code = 0

    def run(self, request: MigrationRequest) -> MigrationResult:
        RecordingBackend.requests.append(request)
        return MigrationResult(RecordingBackend.exit_code, LOG, "2026-01-01T00:00:00Z",
                               "2026-01-01T00:00:05Z")  # fmt: skip


@dataclass(frozen=True)
class NoSettings(backends.BackendSettings):
    """The fakes below take no settings."""

    KIND: ClassVar[str] = "fake"
    WHAT: ClassVar[str] = "fake"


class FailingSnapshots:
    def take(self, request: SnapshotRequest) -> SnapshotRecord:
        raise backends.BackendError(f"pg_dump: connection to {DATABASE_URL} failed ({PASSWORD})")


class ChattyPlatform:
    """A platform probe whose detail carries a secret (a task's stopped reason, say)."""

    healthy = True

    def observe(self, settings: Mapping[str, Any]) -> PlatformObservation:
        return PlatformObservation(
            healthy=ChattyPlatform.healthy, detail=f"running; env SIGNING_KEY={APP_SECRET}x"
        )


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    here = __name__
    table = backends.BACKENDS
    monkeypatch.setitem(table["migration"], "recording",
                        backends.Backend(NoSettings, f"{here}:RecordingBackend"))
    monkeypatch.setitem(table["snapshot"], "failing",
                        backends.Backend(NoSettings, f"{here}:FailingSnapshots"))
    monkeypatch.setitem(table["platform"], "chatty",
                        backends.Backend(NoSettings, f"{here}:ChattyPlatform"))  # fmt: skip
    RecordingBackend.requests = []
    RecordingBackend.exit_code = 0
    ChattyPlatform.healthy = True


def _migration_props(**extra: Any) -> dict[str, Any]:
    # As on AWS and Azure: secrets by reference, so no secret files at all.
    return {
        "release": "v1.4.2", "image": IMAGE, "command": [], "env": {}, "secret_files": {},
        "timeout_seconds": 60, "backend": {"kind": "recording"}, "allow_rollback": False,
        "known_secrets": KNOWN, **extra,
    }  # fmt: skip


def _assert_clean(text: str) -> None:
    for value in (PASSWORD, DATABASE_URL, APP_SECRET, "Pa55word-with%2Fodd%40chars"):
        assert value not in text, f"{value!r} in clear:\n{text}"


@pytest.mark.usefixtures("fakes")
def test_a_migration_log_tail_is_masked_with_the_known_secrets() -> None:
    result = MigrationRunProvider().create(_migration_props())
    outs = result.outs or {}
    _assert_clean(json.dumps(outs))
    assert "password=[redacted] dbname=app" in outs["log_tail"]
    assert "signing with [redacted]" in outs["log_tail"]
    assert "known_secrets" not in outs, "known_secrets must stay an input, never an output"
    # The backend got the values too, to mask what it raises before the provider sees it.
    assert set(KNOWN) <= set(RecordingBackend.requests[0].known_secrets)


@pytest.mark.usefixtures("fakes")
def test_a_failed_migration_message_is_masked_with_the_known_secrets() -> None:
    RecordingBackend.exit_code = 3
    with pytest.raises(MigrationFailedError) as failed:
        MigrationRunProvider().create(_migration_props())
    message = str(failed.value)
    _assert_clean(message)
    assert "exit code 3" in message and "password=[redacted]" in message


def test_a_secret_rotation_reruns_no_migration_gate_or_snapshot() -> None:
    old = _migration_props(known_secrets=["old-password-1234"])
    new = _migration_props(known_secrets=["new-password-5678"])
    assert MigrationRunProvider().diff("id", old, new).changes is False
    snapshot = PreMigrationSnapshotProvider().diff(
        "id", {"trigger": IMAGE, "known_secrets": ["a-old"]},
        {"trigger": IMAGE, "known_secrets": ["b-new"]},
    )  # fmt: skip
    assert (snapshot.changes, snapshot.replaces) == (False, [])
    gate = {"service": "api", "image": IMAGE, "expected_versions": ["v1"], "url": "http://x"}
    assert (
        HealthGateProvider()
        .diff("id", {**gate, "known_secrets": ["a-old"]}, {**gate, "known_secrets": ["b-new"]})
        .changes
        is False
    )


@pytest.mark.usefixtures("fakes")
def test_a_failed_snapshot_message_is_masked_with_the_known_secrets() -> None:
    props = {"release": "v1.4.2", "trigger": IMAGE, "backend": {"kind": "failing"},
             "known_secrets": KNOWN}  # fmt: skip
    with pytest.raises(SnapshotFailedError) as failed:
        PreMigrationSnapshotProvider().create(props)
    _assert_clean(str(failed.value))
    assert "pg_dump: connection to [redacted] failed ([redacted])" in str(failed.value)


def _gate_props(**extra: Any) -> dict[str, Any]:
    return {
        "service": "worker", "image": IMAGE, "expected_versions": ["v1.4.2"],
        "platform": {"kind": "chatty"}, "interval_seconds": 0.01, "success_threshold": 2,
        "failure_threshold": 2, "startup_seconds": 0, "deadline_seconds": 5,
        "known_secrets": KNOWN, **extra,
    }  # fmt: skip


@pytest.mark.usefixtures("fakes")
def test_gate_evidence_is_masked_and_keeps_no_known_secrets_output() -> None:
    result = HealthGateProvider().create(_gate_props())
    outs = result.outs or {}
    _assert_clean(json.dumps(outs))
    assert "known_secrets" not in outs
    details = [o["detail"] for o in outs["evidence"]["observations"]]
    assert details and all("SIGNING_KEY=[redacted]" in d for d in details), details


@pytest.mark.usefixtures("fakes")
def test_a_failed_gate_message_and_observations_are_masked() -> None:
    ChattyPlatform.healthy = False
    with pytest.raises(HealthGateError) as failed:
        run_gate_for(_gate_props())
    _assert_clean(str(failed.value))
    _assert_clean(json.dumps(failed.value.observations))
    assert "SIGNING_KEY=[redacted]" in str(failed.value)


@pytest.mark.parametrize("value", ["not-a-list", [1, 2], {"a": "b"}])
def test_a_malformed_known_secrets_is_refused_without_echoing_it(value: object) -> None:
    failures = MigrationRunProvider().check({}, _migration_props(known_secrets=value)).failures
    found = [f for f in failures if f.property == "known_secrets"]
    assert found and "must be a list of secret strings" in found[0].reason
    assert "not-a-list" not in found[0].reason


def test_a_refused_gate_url_is_reported_without_the_known_secrets() -> None:
    props = _gate_props(url=f"ftp://probe/health/{APP_SECRET}", version_field="version")
    failures = HealthGateProvider().check({}, props).failures
    reasons = [f.reason for f in failures if f.property == "url"]
    assert reasons and "must be an http(s) URL" in reasons[0]
    _assert_clean(reasons[0])
