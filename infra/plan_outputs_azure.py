"""What azure computes for a resource (ids, names, FQDNs, URIs, principal ids), made up for
the offline plan; see `infra.plan_outputs_types` for how the tables are used."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from infra.plan_outputs_types import Config, Inputs, InvokeAnswer, OutputMaker

OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
OFFLINE_TENANT = "11111111-1111-1111-1111-111111111111"
"""Ids every made-up resource id uses: obviously not real ones."""

NAME_INPUTS = ("resourceGroupName", "workspaceName", "virtualNetworkName", "subnetName",
               "privateZoneName", "resourceName", "environmentName", "registryName",
               "vaultName", "secretName", "serverName", "clusterName", "containerAppName",
               "jobName", "databaseName", "configurationName", "privateEndpointName",
               "privateDnsZoneGroupName")  # fmt: skip
"""Inputs that carry a resource's own name, most specific last."""


def _uuid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _name(name: str, inputs: Inputs) -> str:
    found = [str(inputs[k]) for k in NAME_INPUTS if isinstance(inputs.get(k), str)]
    return found[-1] if found else name


def _named(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    return {"name": _name(name, inputs)}


def _identity(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    return {"name": _name(name, inputs), "principalId": _uuid(f"principal|{name}"),
            "clientId": _uuid(f"client|{name}")}  # fmt: skip


def _workspace(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    return {"name": _name(name, inputs), "customerId": _uuid(f"workspace|{name}")}


def _environment(name: str, inputs: Inputs, config: Config) -> dict[str, Any]:
    location = str(inputs.get("location") or config.get("azure-native:location") or "offline")
    return {"name": _name(name, inputs),
            "defaultDomain": f"offline-{_uuid(name)[:8]}.{location}.azurecontainerapps.io"}


def _registry(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    registry = _name(name, inputs)
    return {"name": registry, "loginServer": f"{registry}.azurecr.io"}


def _vault(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    vault = _name(name, inputs)
    properties = dict(inputs.get("properties") or {})
    return {"name": vault, "properties": {**properties, "vaultUri": f"https://{vault}.vault.azure.net/"}}


def _secret(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    secret = _name(name, inputs)
    value = str((inputs.get("properties") or {}).get("value"))
    version = hashlib.sha256(f"{secret}|{value}".encode()).hexdigest()[:32]
    uri = f"https://{inputs.get('vaultName')}.vault.azure.net/secrets/{secret}"
    return {"name": secret, "properties": {**dict(inputs.get("properties") or {}),
                                           "secretUri": uri,
                                           "secretUriWithVersion": f"{uri}/{version}"}}  # fmt: skip


def _private_endpoint(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    """Azure names an endpoint after its resource name when none is given, and gives it a NIC
    with an address from the subnet."""
    return {"name": _name(name, inputs),
            "customDnsConfigs": [{"ipAddresses": [f"10.0.3.{4 + len(name) % 200}"]}]}  # fmt: skip


def _server(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    server = _name(name, inputs)
    return {"name": server, "fullyQualifiedDomainName": f"{server}.postgres.database.azure.com"}


def _redis_cluster(name: str, inputs: Inputs, config: Config) -> dict[str, Any]:
    """Managed Redis' endpoint is `<cluster>.<region>.redis.azure.net` (the private endpoint
    DNS table's public zone `{region}.redis.azure.net`)."""
    cluster = _name(name, inputs)
    location = str(inputs.get("location") or config.get("azure-native:location") or "offline")
    return {"name": cluster, "hostName": f"{cluster}.{location}.redis.azure.net"}


def _redis_database(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    """ARM names a database `<cluster>/<database>` (REST spec example)."""
    return {"name": f"{inputs.get('clusterName')}/{_name(name, inputs)}"}


def _identity_map(inputs: Inputs) -> dict[str, Any]:
    """Identities are given as a list of ids and returned by Azure as a map id -> details."""
    identity = inputs.get("identity")
    if not isinstance(identity, Mapping):
        return {}
    ids = identity.get("userAssignedIdentities") or []
    return {"identity": {**identity, "userAssignedIdentities": {
        str(i): {"principalId": _uuid(f"p|{i}"), "clientId": _uuid(f"c|{i}")} for i in ids}}}


def _job(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    return {"name": _name(name, inputs), **_identity_map(inputs)}


def _container_app(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    app = _name(name, inputs)
    configuration = dict(inputs.get("configuration") or {})
    ingress = configuration.get("ingress")
    if isinstance(ingress, Mapping):
        configuration["ingress"] = {**ingress, "fqdn": f"{app}.offline.azurecontainerapps.io"}
    return {"name": app, "configuration": configuration, **_identity_map(inputs)}


def _revision_rollout(_resource: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    """A new revision named like the real one (content fingerprint, then a made-up time part),
    kept off traffic in multiple-revision mode while the serving one keeps 100%."""
    app = str(inputs.get("app_name"))
    suffix = f"r{str(inputs.get('fingerprint'))[:8]}-offline"
    traffic: list[dict[str, Any]] = [{"latestRevision": True, "weight": 100}]
    if inputs.get("revision_mode") == "multiple":
        traffic = [{"revisionName": f"{app}--offline-serving", "weight": 100}]
    return {"revision_name": f"{app}--{suffix}", "reused": False,
            "serving_revision": f"{app}--offline-serving", "traffic": traffic,
            "applied_template": {**dict(inputs.get("template") or {}), "revisionSuffix": suffix},
            "rollout_id": f"{app}--{suffix}@offline"}  # fmt: skip


def _role_assignment(name: str, inputs: Inputs, _config: Config) -> dict[str, Any]:
    """ARM names the assignment by its GUID; its scope and principal are what was asked."""
    return {"name": str(inputs.get("roleAssignmentName") or _uuid(f"assignment|{name}"))}


def _role_ready(_resource: str, _inputs: Inputs, _config: Config) -> dict[str, Any]:
    """The offline plan waits for nothing: no assignment was read."""
    return {"reads": {}, "ready_at": "offline: not waited"}


OUTPUTS: dict[str, OutputMaker] = {
    "azure-native:resources:ResourceGroup": _named,
    "azure-native:operationalinsights:Workspace": _workspace,
    "azure-native:network:VirtualNetwork": _named,
    "azure-native:network:Subnet": _named,
    "azure-native:privatedns:PrivateZone": _named,
    "azure-native:privatedns:VirtualNetworkLink": _named,
    "azure-native:network:PrivateEndpoint": _private_endpoint,
    "azure-native:network:PrivateDnsZoneGroup": _named,
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:app:ManagedEnvironment": _environment,
    "azure-native:containerregistry:Registry": _registry,
    "azure-native:keyvault:Vault": _vault,
    "azure-native:keyvault:Secret": _secret,
    "azure-native:dbforpostgresql:Server": _server,
    "azure-native:redisenterprise:RedisEnterprise": _redis_cluster,
    "azure-native:redisenterprise:Database": _redis_database,
    "azure-native:app:ContainerApp": _container_app,
    "azure-native:app:Job": _job,
    "azure-native:authorization:RoleAssignment": _role_assignment,
    "pulumi-python:dynamic/azure:RoleReady": _role_ready,
    "pulumi-python:dynamic/azure:RevisionRollout": _revision_rollout,
}
"""Resource type token -> the outputs the cloud would compute."""

INVOKES: dict[str, InvokeAnswer] = {
    "azure-native:authorization:getClientConfig": lambda _args, _config: {
        "subscriptionId": OFFLINE_SUBSCRIPTION, "tenantId": OFFLINE_TENANT,
        "clientId": _uuid("deployer"), "objectId": _uuid("deployer-object"),
    },
    "azure-native:operationalinsights:getSharedKeys": lambda _args, _config: {
        "primarySharedKey": "offline-shared-key", "secondarySharedKey": "offline-shared-key",
    },
    "azure-native:redisenterprise:listDatabaseKeys": lambda _args, _config: {
        "primaryKey": "offline-access-key", "secondaryKey": "offline-access-key",
    },
}  # fmt: skip
"""Invoke token -> its answer."""
