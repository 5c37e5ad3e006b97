"""The replacement guard on recorded `pulumi preview --json` output (the engine's PreviewDigest
shape): a replaced database and a deleted registry fail, naming resource and property; a
harmless update, a re-pin and a retained snapshot pass."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from infra.plan import PROJECT_ROOT
from infra.replacement_guard import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_OK, check, run

PREVIEWS = Path(__file__).parent / "previews"


def guard(name: str) -> tuple[int, str]:
    out = io.StringIO()
    with (PREVIEWS / name).open() as stream:
        code = run(stream, out)
    return code, out.getvalue()


def test_a_replaced_database_fails_naming_the_property() -> None:
    code, text = guard("database-replace.json")
    assert code == EXIT_BLOCKED
    expected = "database instance (aws:rds/instance:Instance) would be replaced: forced by dbName"
    assert expected in text
    assert text.count("would be replaced") == 1  # the three replace steps are one finding
    assert "tags" not in text.split("forced by", 1)[1].splitlines()[0]


def test_a_deleted_registry_fails_but_a_retained_snapshot_does_not() -> None:
    code, text = guard("registry-delete.json")
    assert code == EXIT_BLOCKED
    assert "registry registry (azure-native:containerregistry:Registry) would be deleted" in text
    assert "pre-migration-snapshot" not in text


def test_a_harmless_update_and_a_repin_pass() -> None:
    code, text = guard("harmless-update.json")
    assert code == EXIT_OK, text
    assert "no database, registry, key store, secret, snapshot, release ledger or cache" in text


def test_property_reasons_come_from_the_detailed_diff_too() -> None:
    step = {"op": "replace", "urn": "urn:pulumi:s::p::azure-native:keyvault:Vault::vault",
            "oldState": {"type": "azure-native:keyvault:Vault"},
            "detailedDiff": {"properties.tenantId": {"kind": "update-replace", "inputDiff": True},
                             "tags": {"kind": "update", "inputDiff": True}}}  # fmt: skip
    [violation] = check({"steps": [step]})
    assert violation.kind == "key store" and violation.properties == ("properties.tenantId",)


def test_input_that_is_not_preview_json_is_refused() -> None:
    assert run(io.StringIO("Previewing update (dev):"), io.StringIO()) == EXIT_BAD_INPUT
    assert run(io.StringIO(json.dumps({"resources": []})), io.StringIO()) == EXIT_BAD_INPUT


def test_the_command_reads_stdin_and_sets_its_exit_code() -> None:
    preview = (PREVIEWS / "database-replace.json").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "infra.replacement_guard", "-"], input=preview, text=True,
        capture_output=True, cwd=PROJECT_ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == EXIT_BLOCKED, result.stdout + result.stderr
    assert "forced by dbName" in result.stdout


def test_removing_every_pin_of_a_released_stack_fails_on_the_deleted_ledger() -> None:
    """Foundation-only mode deletes the release (services, gates, ledger) of a stack that had
    one: a preview that deletes the ledger must not pass a pull request unnoticed."""
    ledger_type = "pulumi-python:dynamic/gates:ReleaseLedger"
    urn = f"urn:pulumi:production::releasegate::{ledger_type}::release-ledger"
    step = {"op": "delete", "urn": urn,
            "oldState": {"type": ledger_type, "urn": urn}}
    out = io.StringIO()
    code = run(io.StringIO(json.dumps({"steps": [step]})), out)
    assert code == EXIT_BLOCKED
    assert "release ledger release-ledger" in out.getvalue()
    assert "Put the pins back" in out.getvalue()


def _step(op: str, urn: str, **extra: object) -> dict[str, object]:
    resource_type = urn.split("::")[2].rsplit("$", 1)[-1]
    return {"op": op, "urn": urn, "oldState": {"type": resource_type, "urn": urn}, **extra}


def test_a_replaced_or_deleted_cache_fails_on_every_target() -> None:
    stack = "urn:pulumi:production::releasegate::"
    local = "urn:pulumi:dev::releasegate::releasegate:local:Cache$"
    steps = [
        _step("replace", f"{stack}aws:elasticache/replicationGroup:ReplicationGroup::cache",
              replaceReasons=["atRestEncryptionEnabled"]),
        _step("delete", f"{stack}releasegate:azure:Cache$azure-native:redisenterprise:"
              "RedisEnterprise::cache-cluster"),
        _step("replace", f"{stack}releasegate:azure:Cache$azure-native:redisenterprise:"
              "Database::cache-database", replaceReasons=["clusteringPolicy"]),
        _step("replace", f"{local}docker:index/container:Container::cache-server",
              replaceReasons=["image"]),
        _step("delete", f"{local}docker:index/volume:Volume::cache-data"),
    ]  # fmt: skip
    found = {(v.kind, v.name, v.op, v.properties) for v in check({"steps": steps})}
    assert found == {
        ("cache", "cache", "replace", ("atRestEncryptionEnabled",)),
        ("cache", "cache-cluster", "delete", ()),
        ("cache", "cache-database", "replace", ("clusteringPolicy",)),
        ("cache", "cache-server", "replace", ("image",)),
        ("cache volume", "cache-data", "delete", ()),
    }
    out = io.StringIO()
    assert run(io.StringIO(json.dumps({"steps": steps})), out) == EXIT_BLOCKED
    assert "cache cache-server (docker:index/container:Container) would be replaced" in (
        out.getvalue()
    )


def test_a_service_container_replaced_by_a_release_is_not_a_cache() -> None:
    """Only the cache component's children are stateful: every release replaces a service's
    container, and the database's volume keeps its own kind."""
    service = ("urn:pulumi:dev::releasegate::releasegate:local:Service$"
               "docker:index/container:Container::service-api-container")  # fmt: skip
    volume = ("urn:pulumi:dev::releasegate::releasegate:local:Database$"
              "docker:index/volume:Volume::database-data")  # fmt: skip
    found = check({"steps": [_step("replace", service, replaceReasons=["image"]),
                             _step("delete", volume)]})  # fmt: skip
    assert [(v.kind, v.name) for v in found] == [("database volume", "database-data")]
