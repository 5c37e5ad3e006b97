"""The real program under Pulumi mocks for every Azure stack file (azure-staging,
azure-production): the properties the Azure target promises, checked on what it registers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc

from infra.plan import (
    Plan,
    PlanMocks,
    PlannedResource,
    RecordingMonitor,
    apply_sets,
    diff_plans,
    evaluate,
    load_stack_config,
)
from infra.settings import ConfigError
from policy.rules import Resource, key_vault_secrets_typed
from tests.unit.stacks import stacks_for
from tests.unit.test_foundation import stack_copy
from tests.unit.test_program import depends_on, one

AZURE_STACKS = stacks_for("azure")
DIGEST_IMAGE = re.compile(r"^[a-z0-9]+\.azurecr\.io/[a-z0-9/._-]+@sha256:[0-9a-f]{64}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY$|DATABASE_URL")


@pytest.fixture(scope="module", params=AZURE_STACKS)
def azure_plan(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, evaluate(load_stack_config(request.param))


def of_type(plan: Plan, token: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == token]


def containers(resource: PlannedResource) -> list[dict[str, Any]]:
    return list(resource.inputs["template"]["containers"])


def test_example_stacks_exist_for_staging_and_production() -> None:
    assert {"azure-staging", "azure-production"} <= set(AZURE_STACKS)


def test_release_graph_runs_in_runbook_order(azure_plan: tuple[str, Plan]) -> None:
    stack, plan = azure_plan
    snapshot = one(plan, ":PreMigrationSnapshot", "pre-migration-snapshot")
    migration = one(plan, ":MigrationRun", "migration")
    api = one(plan, "azure-native:app:ContainerApp", "service-api")
    web = one(plan, "azure-native:app:ContainerApp", "service-web")
    api_gate, web_gate = one(plan, ":HealthGate", "gate-api"), one(plan, ":HealthGate", "gate-web")
    ledger = one(plan, ":ReleaseLedger", "release-ledger")
    assert depends_on(plan, snapshot, one(plan, ":ImagePin", "pin-migrations"))
    assert depends_on(plan, migration, snapshot)
    assert depends_on(plan, api, migration)
    assert depends_on(plan, api_gate, api)
    assert depends_on(plan, web, api_gate)
    assert depends_on(plan, web_gate, web)
    assert depends_on(plan, ledger, web_gate)
    if stack == "azure-production":  # traffic moves after each gate, before the next service
        shift = one(plan, ":TrafficShift", "traffic-shift-api")
        assert depends_on(plan, shift, api_gate)
        assert depends_on(plan, web, shift)
        assert depends_on(plan, ledger, one(plan, ":TrafficShift", "traffic-shift-web"))


def test_registry_has_no_admin_user_and_pulls_by_identity(azure_plan: tuple[str, Plan]) -> None:
    _, plan = azure_plan
    registry = one(plan, "azure-native:containerregistry:Registry", "registry")
    assert registry.inputs["adminUserEnabled"] is False and registry.protect
    for resource in [*of_type(plan, "azure-native:app:ContainerApp"),
                     *of_type(plan, "azure-native:app:Job")]:  # fmt: skip
        for registry_credentials in resource.inputs["configuration"]["registries"]:
            assert registry_credentials["identity"]
            assert "passwordSecretRef" not in registry_credentials
        assert resource.inputs["identity"]["type"] == "UserAssigned"


ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def grants(plan: Plan, workload: str) -> dict[str, list[str]]:
    """Role definition id (last part) -> the scopes the workload's identity holds it on."""
    identity = one(plan, IDENTITY, f"identity-{workload}")
    found: dict[str, list[str]] = {}
    for r in of_type(plan, ASSIGNMENT):
        if identity.urn in r.dependencies:
            role = str(r.inputs["roleDefinitionId"]).rsplit("/", 1)[-1]
            found.setdefault(role, []).append(str(r.inputs["scope"]))
    # Sorted: grants registered inside apply callbacks (the cache's secret) come in no fixed order.
    return {role: sorted(scopes) for role, scopes in found.items()}


def test_one_identity_per_service_and_one_for_the_migration_job(
    azure_plan: tuple[str, Plan],
) -> None:
    stack, plan = azure_plan
    services = sorted(load_stack_config(stack).values["releasegate:services"])
    assert {r.name for r in of_type(plan, IDENTITY)} == {
        f"identity-{w}" for w in [*services, "migrate"]}  # fmt: skip
    uses = {f"service-{s}": f"identity-{s}-id" for s in services}
    for resource in [*of_type(plan, "azure-native:app:ContainerApp"),
                     *of_type(plan, "azure-native:app:Job")]:  # fmt: skip
        own = uses.get(resource.name, "identity-migrate-id")
        assert resource.inputs["identity"]["userAssignedIdentities"] == [own], resource.name
        configuration = resource.inputs["configuration"]
        assert {r["identity"] for r in configuration["registries"]} == {own}
        assert {s["identity"] for s in configuration.get("secrets") or []} <= {own}


def test_each_identity_reads_only_its_declared_secrets_and_pulls(
    azure_plan: tuple[str, Plan],
) -> None:
    stack, plan = azure_plan
    services = load_stack_config(stack).values["releasegate:services"]
    secret_ids = {r.name: f"{r.name}-id" for r in of_type(plan, "azure-native:keyvault:Secret")}
    registry_id = "registry-id"  # the registry resource's id under mocks
    declared = {name: spec.get("secrets") or [] for name, spec in services.items()}
    declared["migrate"] = ["DATABASE_URL"]
    for workload, secrets in declared.items():
        held = grants(plan, workload)
        assert held.pop(ACR_PULL) == [registry_id], workload
        expected = sorted(secret_ids[n.lower().replace("_", "-")] for n in secrets)
        assert sorted(held.pop(SECRETS_USER, [])) == expected, workload
        assert not held, (workload, held)  # nothing else, and never the whole vault
    # api lists DATABASE_URL and REDIS_URL in the example stacks: Secrets User on those two.
    assert grants(plan, "api")[SECRETS_USER] == ["database-url-id", "redis-url-id"]
    assert SECRETS_USER not in grants(plan, "web")  # web declares no secret: reads none
    vault = one(plan, "azure-native:keyvault:Vault", "vault")
    assert all(r.inputs["scope"] != f"{vault.name}-id" for r in of_type(plan, ASSIGNMENT))


def test_role_assignment_names_are_deterministic_guids_unique_per_grant(
    azure_plan: tuple[str, Plan],
) -> None:
    _, plan = azure_plan
    assignments = of_type(plan, ASSIGNMENT)
    names = [r.inputs["roleAssignmentName"] for r in assignments]
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", n) for n in names)
    keys = {(r.inputs["scope"], r.inputs["principalId"], r.inputs["roleDefinitionId"])
            for r in assignments}  # fmt: skip
    assert len(set(names)) == len(keys) == len(assignments)
    assert all(r.inputs["principalType"] == "ServicePrincipal" for r in assignments)


def test_apps_and_the_job_wait_for_their_identitys_roles(azure_plan: tuple[str, Plan]) -> None:
    stack, plan = azure_plan
    for workload in [*load_stack_config(stack).values["releasegate:services"], "migrate"]:
        ready = one(plan, ":RoleReady", f"roles-ready-{workload}")
        own = [r for r in of_type(plan, ASSIGNMENT)
               if one(plan, IDENTITY, f"identity-{workload}").urn in r.dependencies]  # fmt: skip
        assert {a["id"] for a in ready.inputs["assignments"]} == {f"{r.name}-id" for r in own}
        assert all(depends_on(plan, ready, r) for r in own)
        assert ready.inputs["timeout_seconds"] == 600
        user = (one(plan, "azure-native:app:Job", "migration-job") if workload == "migrate"
                else one(plan, "azure-native:app:ContainerApp", f"service-{workload}"))  # fmt: skip
        assert depends_on(plan, user, ready), workload


def test_identities_pulls_and_database_url_grants_come_with_the_foundation(
    tmp_path: Path,
) -> None:
    """A pin-less `up` creates them, so they have propagated when the first release runs."""
    plan = evaluate(load_stack_config("azure-production", stack_copy("azure-production", tmp_path)))
    assert {r.name for r in of_type(plan, IDENTITY)} == {
        "identity-api", "identity-web", "identity-migrate"}  # fmt: skip
    # api also lists REDIS_URL: the cache is foundation too (tests/unit/test_azure_cache.py).
    assert grants(plan, "api") == {ACR_PULL: ["registry-id"],
                                   SECRETS_USER: ["database-url-id", "redis-url-id"]}  # fmt: skip
    assert grants(plan, "migrate") == {ACR_PULL: ["registry-id"], SECRETS_USER: ["database-url-id"]}
    assert grants(plan, "web") == {ACR_PULL: ["registry-id"]}
    assert not of_type(plan, "pulumi-python:dynamic/azure:RoleReady")  # waits come with a release


def test_the_migration_job_carries_database_url_and_the_command(
    azure_plan: tuple[str, Plan],
) -> None:
    stack, plan = azure_plan
    job = one(plan, "azure-native:app:Job", "migration-job")
    [container] = containers(job)
    assert container["command"] == load_stack_config(stack).values["releasegate:migration"][
        "command"]  # fmt: skip
    assert {"name": "DATABASE_URL", "secretRef": "database-url"} in container["env"]
    assert container["resources"]
    migration = one(plan, ":MigrationRun", "migration")
    assert migration.inputs["env"] == {} and migration.inputs["image"] == container["image"]


def test_key_vault_uses_rbac_soft_delete_and_purge_protection(azure_plan: tuple[str, Plan]) -> None:
    _, plan = azure_plan
    vault = one(plan, "azure-native:keyvault:Vault", "vault")
    properties = vault.inputs["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True and properties["enablePurgeProtection"] is True
    assert vault.protect
    for secret in of_type(plan, "azure-native:keyvault:Secret"):
        assert secret.inputs["properties"] == "[secret]" or (
            secret.inputs["properties"]["value"] == "[secret]"
        )


def test_secrets_are_key_vault_references_never_plain_env(azure_plan: tuple[str, Plan]) -> None:
    _, plan = azure_plan
    for resource in [*of_type(plan, "azure-native:app:ContainerApp"),
                     *of_type(plan, "azure-native:app:Job")]:  # fmt: skip
        secrets = resource.inputs["configuration"].get("secrets") or []
        for secret in secrets:
            assert secret["keyVaultUrl"].startswith("https://") and secret["identity"]
            assert "value" not in secret
        for container in containers(resource):
            assert DIGEST_IMAGE.match(container["image"]), container["image"]
            for env in container.get("env") or []:
                if SECRET_NAME.search(env["name"]):
                    assert "secretRef" in env and "value" not in env, (resource.name, env)
    text = json.dumps(plan.as_json())
    assert "postgresql://" not in text and "offline-secrets-" not in text


def test_database_is_private_tls_backed_up(azure_plan: tuple[str, Plan]) -> None:
    stack, plan = azure_plan
    database = load_stack_config(stack).values["releasegate:database"]
    server = one(plan, "azure-native:dbforpostgresql:Server", "server")
    assert server.inputs["network"]["publicNetworkAccess"] == "Disabled"
    assert server.inputs["network"]["delegatedSubnetResourceId"]
    assert server.inputs["network"]["privateDnsZoneArmResourceId"]
    assert server.inputs["backup"]["backupRetentionDays"] == database["backupRetentionDays"]
    assert server.inputs["administratorLoginPassword"] == "[secret]"
    assert server.protect
    tls = one(plan, "azure-native:dbforpostgresql:Configuration", "server-require-tls")
    assert tls.inputs["configurationName"] == "require_secure_transport"
    assert tls.inputs["value"] == "on"
    zone = one(plan, "azure-native:privatedns:PrivateZone", "postgres-zone")
    assert zone.inputs["privateZoneName"].endswith(".private.postgres.database.azure.com")
    delegations = {r.name: r.inputs["delegations"][0]["serviceName"]
                   for r in of_type(plan, "azure-native:network:Subnet")
                   if r.inputs.get("delegations")}  # fmt: skip
    assert delegations == {"apps": "Microsoft.App/environments",
                           "database": "Microsoft.DBforPostgreSQL/flexibleServers"}  # fmt: skip


def test_production_has_ha_geo_backups_and_multiple_revisions() -> None:
    plan = evaluate(load_stack_config("azure-production"))
    server = one(plan, "azure-native:dbforpostgresql:Server", "server")
    assert server.inputs["highAvailability"]["mode"] == "ZoneRedundant"
    assert server.inputs["backup"]["geoRedundantBackup"] == "Enabled"
    for app in of_type(plan, "azure-native:app:ContainerApp"):
        assert app.inputs["configuration"]["activeRevisionsMode"] == "Multiple"
        traffic = app.inputs["configuration"]["ingress"]["traffic"]
        # the serving revision keeps all traffic while the new one is gated
        assert traffic == [{"latestRevision": False, "weight": 100,
                            "revisionName": f"{app.inputs['containerAppName']}--offline-serving"}]
    staging = evaluate(load_stack_config("azure-staging"))
    for app in of_type(staging, "azure-native:app:ContainerApp"):
        assert app.inputs["configuration"]["activeRevisionsMode"] == "Single"
        assert app.inputs["configuration"]["ingress"]["traffic"] == [
            {"latestRevision": True, "weight": 100}]
    assert not of_type(staging, "pulumi-python:dynamic/azure:TrafficShift")
    staging_server = one(staging, "azure-native:dbforpostgresql:Server", "server")
    assert staging_server.inputs["highAvailability"]["mode"] == "Disabled"


def test_apps_are_probed_on_their_health_paths_and_gated_by_revision(
    azure_plan: tuple[str, Plan],
) -> None:
    _, plan = azure_plan
    for name, path in (("api", "/health/ready"), ("web", "/api/health/ready")):
        app = one(plan, "azure-native:app:ContainerApp", f"service-{name}")
        probes = containers(app)[0]["probes"]
        assert {p["type"] for p in probes} == {"Startup", "Readiness", "Liveness"}
        assert all(p["httpGet"]["path"] == path for p in probes)
        revision = f"{app.inputs['containerAppName']}--{app.inputs['template']['revisionSuffix']}"
        gate = one(plan, ":HealthGate", f"gate-{name}")
        # the rollout id starts with the revision and changes on every rollout (reuse too)
        assert gate.inputs["rollout"].startswith(f"{revision}@")
        assert gate.inputs["platform"]["revision_name"] == revision
        assert gate.inputs["platform"]["kind"] == "containerapps"
        # the gate probes the revision's own FQDN, not the app's
        url = gate.inputs["url"]
        assert url.startswith(f"https://{revision}.") and url.endswith(path)


def test_migration_job_is_manual_and_never_retried(azure_plan: tuple[str, Plan]) -> None:
    _, plan = azure_plan
    job = one(plan, "azure-native:app:Job", "migration-job")
    assert job.inputs["configuration"]["triggerType"] == "Manual"
    assert job.inputs["configuration"]["replicaRetryLimit"] == 0
    migration = one(plan, ":MigrationRun", "migration")
    assert migration.inputs["backend"]["kind"] == "containerapps-job"
    assert migration.inputs["backend"]["job_name"] == job.inputs["jobName"]


def test_repin_changes_only_that_apps_revision_pin_gate_and_traffic() -> None:
    base = load_stack_config("azure-production")
    changes = diff_plans(evaluate(base), evaluate(apply_sets(base, ["release.api=v1.4.1"])))
    touched = {(c.resource.type, c.resource.name) for c in changes}
    assert touched == {
        ("pulumi-python:dynamic/gates:ImagePin", "pin-api"),
        # The freeze guard holds the pins as configured (its check refuses a change in a window).
        ("pulumi-python:dynamic/gates:FreezeGuard", "freeze-guard"),
        ("pulumi-python:dynamic/azure:RevisionRollout", "service-api-revision"),
        ("azure-native:app:ContainerApp", "service-api"),
        ("pulumi-python:dynamic/gates:HealthGate", "gate-api"),
        ("pulumi-python:dynamic/azure:TrafficShift", "traffic-shift-api"),
        ("pulumi-python:dynamic/gates:ReleaseLedger", "release-ledger"),
        # The record that a new release was tried (who, when): every re-pin is one.
        ("pulumi-python:dynamic/gates:ReleaseAttempt", "release-attempt"),
    }
    app = next(c for c in changes if c.resource.name == "service-api")
    assert set(app.changed_inputs) <= {"template"}, app.changed_inputs


def test_restore_is_a_point_in_time_restore_into_a_new_server() -> None:
    base = load_stack_config("azure-staging")
    sets = ["database.restoreFromSnapshot=pre-migrate-v1.4.1-x",
            "azure.restorePointInTime=2026-11-24T10:15:00Z"]
    plan = evaluate(apply_sets(base, sets))
    restored = one(plan, "azure-native:dbforpostgresql:Server", "restored")
    assert restored.inputs["createMode"] == "PointInTimeRestore"
    assert restored.inputs["pointInTimeUTC"] == "2026-11-24T10:15:00Z"
    assert restored.inputs["sourceServerResourceId"]
    assert restored.protect
    changes = {c.resource.name: c.kind for c in diff_plans(evaluate(base), plan)}
    assert "server" not in changes and changes["restored"] == "create"


def test_each_app_takes_its_template_and_traffic_from_its_revision_rollout(
    azure_plan: tuple[str, Plan],
) -> None:
    """The app stays the only writer of its template: RevisionRollout (before it) says which
    template and traffic it must have, so no later PUT re-sends a stale template."""
    stack, plan = azure_plan
    for name in ("api", "web"):
        app = one(plan, "azure-native:app:ContainerApp", f"service-{name}")
        rollout = one(plan, ":RevisionRollout", f"service-{name}-revision")
        assert depends_on(plan, app, rollout)
        assert rollout.inputs["app_name"] == app.inputs["containerAppName"]
        assert rollout.inputs["revision_mode"] == app.inputs["configuration"][
            "activeRevisionsMode"].lower()
        suffix = app.inputs["template"]["revisionSuffix"]
        assert suffix.startswith(f"r{rollout.inputs['fingerprint'][:8]}-")
        revision = f"{app.inputs['containerAppName']}--{suffix}"
        assert len(revision) <= 54 and "--" not in suffix
        template = {k: v for k, v in app.inputs["template"].items() if k != "revisionSuffix"}
        assert template == rollout.inputs["template"]
        assert template["scale"]["minReplicas"] == template["scale"]["maxReplicas"]
        gate = one(plan, ":HealthGate", f"gate-{name}")
        assert gate.inputs["platform"]["revision_name"] == revision
        if stack == "azure-production":
            shift = one(plan, ":TrafficShift", f"traffic-shift-{name}")
            assert shift.inputs["revision_name"] == revision
            assert shift.inputs["rollout_id"] == gate.inputs["rollout"]
            assert shift.inputs["keep_warm"] is True


def test_a_secret_version_change_is_a_new_revision_fingerprint() -> None:
    """A rotated secret changes no template field but must start a new revision: its version
    is part of the fingerprint the revision's name carries."""
    base = load_stack_config("azure-production")
    before = one(evaluate(base), ":RevisionRollout", "service-api-revision")
    config = apply_sets(base, ["release.api=v1.4.1"])
    after = one(evaluate(config), ":RevisionRollout", "service-api-revision")
    assert before.inputs["fingerprint"] != after.inputs["fingerprint"]
    assert before.inputs["config_fingerprint"] == after.inputs["config_fingerprint"]


def test_warm_revision_off_reaches_the_traffic_shift() -> None:
    plan = evaluate(apply_sets(load_stack_config("azure-production"),
                               ["azure.warmRevision=false"]))  # fmt: skip
    for shift in of_type(plan, "pulumi-python:dynamic/azure:TrafficShift"):
        assert shift.inputs["keep_warm"] is False


# Issue 15, Azure gaps 7-9: private data planes, ACR zone redundancy, typed secrets.

VAULT = "azure-native:keyvault:Vault"
REGISTRY = "azure-native:containerregistry:Registry"
ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
ZONE = "azure-native:privatedns:PrivateZone"
LINK = "azure-native:privatedns:VirtualNetworkLink"


def test_production_reaches_key_vault_and_acr_only_through_private_endpoints() -> None:
    plan = evaluate(load_stack_config("azure-production"))
    vault = one(plan, VAULT, "vault").inputs["properties"]
    assert vault["publicNetworkAccess"] == "disabled"
    assert vault["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    registry = one(plan, REGISTRY, "registry").inputs
    assert registry["publicNetworkAccess"] == "Disabled"
    assert registry["networkRuleSet"] == {"defaultAction": "Deny"}
    assert registry["sku"] == {"name": "Premium"}  # private endpoints need Premium
    subnets = {r.name: r for r in of_type(plan, "azure-native:network:Subnet")}
    endpoints_subnet = subnets["endpoints"].inputs
    # Within vnetCidr, after the apps /23 and the database /24; not delegated.
    assert endpoints_subnet["addressPrefix"] == "10.60.3.0/24"
    assert not endpoints_subnet.get("delegations")
    assert depends_on(plan, subnets["endpoints"], subnets["database"])  # one subnet at a time
    zones = {r.name: r.inputs["privateZoneName"] for r in of_type(plan, ZONE)}
    assert zones["vault-endpoint-zone"] == "privatelink.vaultcore.azure.net"
    assert zones["registry-endpoint-zone"] == "privatelink.azurecr.io"
    vnet = one(plan, "azure-native:network:VirtualNetwork", "vnet")
    links = {r.name: r for r in of_type(plan, LINK)}
    for name, group_id in (("vault-endpoint", "vault"), ("registry-endpoint", "registry")):
        endpoint = one(plan, ENDPOINT, name)
        assert endpoint.inputs["subnet"]["id"] == "endpoints-id"
        (connection,) = endpoint.inputs["privateLinkServiceConnections"]
        assert connection["groupIds"] == [group_id]
        target = one(plan, VAULT if group_id == "vault" else REGISTRY, group_id)
        assert connection["privateLinkServiceId"] == f"{target.name}-id"
        records = one(plan, ZONE_GROUP, f"{name}-dns")
        (config,) = records.inputs["privateDnsZoneConfigs"]
        assert config["privateDnsZoneId"] == f"{name}-zone-id"
        link = links[f"{name}-zone-link"]
        assert link.inputs["virtualNetwork"]["id"] == f"{vnet.name}-id"
        assert link.inputs["registrationEnabled"] is False
    # Nothing that pulls or reads a secret starts before the endpoints and their records exist.
    for workload in [*of_type(plan, "azure-native:app:ContainerApp"),
                     *of_type(plan, "azure-native:app:Job")]:  # fmt: skip
        for name in ("vault-endpoint", "registry-endpoint"):
            assert depends_on(plan, workload, one(plan, ENDPOINT, name))
            assert depends_on(plan, workload, one(plan, ZONE_GROUP, f"{name}-dns"))
            assert depends_on(plan, workload, links[f"{name}-zone-link"])


def test_staging_keeps_public_access_and_no_private_endpoints() -> None:
    plan = evaluate(load_stack_config("azure-staging"))
    assert one(plan, VAULT, "vault").inputs["properties"]["publicNetworkAccess"] == "enabled"
    registry = one(plan, REGISTRY, "registry").inputs
    assert registry["publicNetworkAccess"] == "Enabled"
    assert registry["sku"] == {"name": "Standard"} and registry["zoneRedundancy"] == "Disabled"
    # Key Vault and ACR get no endpoint; the cache, never public, has the only one (and the
    # endpoints subnet is there for it; without a cache: tests/unit/test_azure_cache.py).
    assert {r.name for r in of_type(plan, ENDPOINT)} == {"cache-endpoint"}
    assert {r.name for r in of_type(plan, ZONE_GROUP)} == {"cache-endpoint-dns"}


def test_staging_can_opt_in_to_private_endpoints_with_premium() -> None:
    config = apply_sets(load_stack_config("azure-staging"), ["azure.privateNetwork=true"])
    plan = evaluate(config)
    registry = one(plan, REGISTRY, "registry").inputs
    assert registry["publicNetworkAccess"] == "Disabled" and registry["sku"] == {"name": "Premium"}
    assert {r.name for r in of_type(plan, ENDPOINT)} == {
        "vault-endpoint", "registry-endpoint", "cache-endpoint"}  # fmt: skip
    subnet = one(plan, "azure-native:network:Subnet", "endpoints")
    assert subnet.inputs["addressPrefix"] == "10.50.3.0/24"


def test_production_refuses_public_data_planes() -> None:
    config = apply_sets(load_stack_config("azure-production"), ["azure.privateNetwork=false"])
    with pytest.raises(ConfigError, match=r"azure\.privateNetwork.*true in production"):
        evaluate(config)


def test_production_registry_is_created_zone_redundant_and_never_replaced_for_it() -> None:
    plan = evaluate(load_stack_config("azure-production"))
    registry = one(plan, REGISTRY, "registry")
    assert registry.inputs["zoneRedundancy"] == "Enabled"
    assert registry.protect


class RevealingMonitor(RecordingMonitor):
    """Also keeps each Key Vault secret's inputs with secrets unwrapped (never printed): the
    offline plan masks the whole `properties` object because its value is a secret."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(PlanMocks(dict(values)))
        self.secrets: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type == "azure-native:keyvault:Secret":
            raw = rpc.deserialize_properties(request.object)
            properties = raw["properties"]
            if rpc.is_rpc_secret(properties):
                properties = rpc.unwrap_rpc_secret(properties)
            self.secrets[str(raw["secretName"])] = dict(properties)
        return super().RegisterResource(request)


def test_every_key_vault_secret_carries_a_content_type() -> None:
    for stack in AZURE_STACKS:
        config = load_stack_config(stack)
        monitor = RevealingMonitor(config.values)
        evaluate(config, monitor)
        assert monitor.secrets, stack
        assert monitor.secrets["database-url"]["contentType"] == "application/x-postgresql-url"
        for name, properties in monitor.secrets.items():
            assert properties["contentType"], (stack, name)
            resource = Resource("azure-native:keyvault:Secret", {"properties": properties})
            assert key_vault_secrets_typed(resource, {}) == [], (stack, name)


class OptionsMonitor(RecordingMonitor):
    """Also keeps each resource's ignoreChanges, as the engine receives them."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(PlanMocks(dict(values)))
        self.ignored: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.ignored[f"{request.type}::{request.name}"] = list(request.ignoreChanges)
        return super().RegisterResource(request)


STATE_BEFORE_ISSUE_15 = {
    # What forces a replacement (the names and places azure-native puts in the resource's
    # path, and location), as the azure-production plan had them before the private endpoints:
    # the hardening must not change any of them.
    (REGISTRY, "registry"): {"registryName": "releasegateazureproduction3f5cd1",
                             "resourceGroupName": "releasegate-production",
                             "location": "westeurope"},
    (VAULT, "vault"): {"vaultName": "releasegate-azu-3f5cd1",
                       "resourceGroupName": "releasegate-production", "location": "westeurope"},
    ("azure-native:keyvault:Secret", "database-url"): {
        "secretName": "database-url", "vaultName": "releasegate-azu-3f5cd1",
        "resourceGroupName": "releasegate-production"},
}  # fmt: skip


def test_the_hardening_replaces_no_stateful_resource_on_an_existing_stack() -> None:
    """Public access, network rules and content types are updates in place (the registry's,
    vault's and secret's update operations take them); zone redundancy is not (a registry
    update has no zoneRedundancy), so the registry ignores its changes: an existing registry
    keeps its images and a new one is created zone-redundant."""
    config = load_stack_config("azure-production")
    monitor = OptionsMonitor(config.values)
    plan = evaluate(config, monitor)
    for (token, name), forcing in STATE_BEFORE_ISSUE_15.items():
        resource = one(plan, token, name)
        assert {k: resource.inputs.get(k) for k in forcing} == forcing, (token, name)
    assert one(plan, REGISTRY, "registry").protect and one(plan, VAULT, "vault").protect
    assert monitor.ignored[f"{REGISTRY}::registry"] == ["zoneRedundancy"]
    # The existing subnets keep their prefixes (a changed prefix replaces a subnet).
    subnets = {r.name: r.inputs["addressPrefix"]
               for r in of_type(plan, "azure-native:network:Subnet")}  # fmt: skip
    assert subnets == {"apps": "10.60.0.0/23", "database": "10.60.2.0/24",
                       "endpoints": "10.60.3.0/24"}  # fmt: skip


def test_service_names_up_to_the_configs_limit_make_valid_azure_names() -> None:
    """31-character service names (the config's limit) give container apps, identities and
    verify jobs valid, distinct names within Azure's 32 (components/azure/naming.py)."""
    names = ("notification-dispatcher-worker1", "notification-dispatcher-worker2")
    sets = [f'services.{n}={{"replicas": 1, "repository": "releasegate/api"}}' for n in names]
    sets += [f"release.{n}=v1.0.0" for n in names]
    sets += [f'services.{names[0]}.verify={{"command": ["true"]}}']
    plan = evaluate(apply_sets(load_stack_config("azure-staging"), sets))
    rule = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,30}[a-z0-9]$")
    made = {
        (r.type, r.name): r.inputs[key]
        for r in plan.resources
        for key in ("containerAppName", "jobName", "resourceName")
        if r.type.startswith("azure-native:app:") or r.type.endswith(":UserAssignedIdentity")
        if isinstance(r.inputs.get(key), str)
    }
    for name in names:
        assert ("azure-native:app:ContainerApp", f"service-{name}") in made
    bad = {k: v for k, v in made.items() if not rule.match(v)}
    assert bad == {}
    apps = [v for (t, _), v in made.items() if t == "azure-native:app:ContainerApp"]
    assert len(apps) == len(set(apps))
