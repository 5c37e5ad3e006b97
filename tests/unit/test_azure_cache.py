"""The Azure cache (components/azure/cache.py): what `releasegate:cache` may say on Azure, and
every property the Azure Managed Redis cluster, its database, its private endpoint and its
connection URL are registered with, under Pulumi mocks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlparse

import pulumi
import pytest
from pulumi_azure_native.redisenterprise import SkuName

from components.azure.cache import AzureCache, AzureCacheArgs, redis_url
from components.azure.naming import cache_name
from components.azure.spec import MANAGED_REDIS_SKUS
from infra.plan import Plan, apply_sets, diff_plans, evaluate, load_stack_config, run_under_mocks
from infra.pulumi_internals import MockMonitor
from policy.rules import RULES, Resource
from tests.unit.test_azure_config import azure
from tests.unit.test_azure_program import AZURE_STACKS, RevealingMonitor
from tests.unit.test_config import load, problems_of
from tests.unit.test_program import depends_on, one

KEY = "k+y/with=base64/chars"
"""Access keys are base64: '+', '/' and '=' must reach the client intact."""
HOST = "rg-cache-abc123.westeurope.redis.azure.net"


class CacheMocks(pulumi.runtime.Mocks):
    """Records resources (outputs echo inputs; the cluster gets its host name) and answers
    listDatabaseKeys with KEY, recording the call's arguments."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        extra: dict[str, Any] = {}
        if args.typ == "azure-native:redisenterprise:RedisEnterprise":
            extra = {"name": args.inputs["clusterName"], "hostName": HOST}
        if args.typ == "azure-native:redisenterprise:Database":
            # ARM names a database `<cluster>/<database>` (REST spec example).
            extra = {"name": f"{args.inputs['clusterName']}/{args.inputs['databaseName']}"}
        return f"{args.name}-id", {**args.inputs, **extra}

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args)
        if args.token == "azure-native:redisenterprise:listDatabaseKeys":
            return {"primaryKey": KEY, "secondaryKey": "other"}, []
        return {}, []


def build(
    *, production: bool, high_availability: bool, protect: bool
) -> tuple[CacheMocks, dict[str, Any]]:
    mocks = CacheMocks()
    seen: dict[str, Any] = {}

    def program() -> None:
        cache = AzureCache("cache", AzureCacheArgs(
            cluster_name="rg-cache-abc123", resource_group_name="rg", location="westeurope",
            sku="Balanced_B1", high_availability=high_availability, production=production,
            protect=protect, subnet_id="endpoints-subnet-id", vnet_id="vnet-id",
            tags={"releasegate-stack": "test"},
        ))  # fmt: skip
        cache.url.apply(lambda u: seen.__setitem__("url", u))
        secret: pulumi.Output[bool] = pulumi.Output.from_input(cache.url.is_secret())
        secret.apply(lambda is_secret: seen.__setitem__("url_is_secret", is_secret))

    run_under_mocks(program, MockMonitor(mocks), project="releasegate", stack="test")
    return mocks, seen


def by_type(mocks: CacheMocks, token: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in mocks.resources if r.typ == token]


def only(mocks: CacheMocks, token: str) -> dict[str, Any]:
    found = by_type(mocks, token)
    assert len(found) == 1, (token, found)
    return dict(found[0].inputs)


@pytest.mark.parametrize("production", [True, False])
def test_cluster_is_tls_1_2_only_and_private(production: bool) -> None:
    mocks, _ = build(production=production, high_availability=production, protect=production)
    cluster = only(mocks, "azure-native:redisenterprise:RedisEnterprise")
    assert cluster["clusterName"] == "rg-cache-abc123"
    assert cluster["sku"] == {"name": "Balanced_B1"}
    assert cluster["minimumTlsVersion"] == "1.2"
    assert cluster["publicNetworkAccess"] == "Disabled"
    assert cluster["highAvailability"] == ("Enabled" if production else "Disabled")
    assert cluster["location"] == "westeurope" and cluster["resourceGroupName"] == "rg"


@pytest.mark.parametrize(("production", "frequency"), [(True, "1h"), (False, "12h")])
def test_database_is_encrypted_with_access_keys_and_rdb_persistence(
    production: bool, frequency: str
) -> None:
    mocks, _ = build(production=production, high_availability=production, protect=production)
    database = only(mocks, "azure-native:redisenterprise:Database")
    assert database["databaseName"] == "default"
    assert database["clusterName"] == "rg-cache-abc123"
    assert database["clientProtocol"] == "Encrypted"  # no plaintext port
    assert database["clusteringPolicy"] == "EnterpriseCluster"  # any client, one endpoint
    assert database["accessKeysAuthentication"] == "Enabled"
    assert database["evictionPolicy"] == "VolatileLRU"
    assert database["port"] == 10000
    assert database["persistence"] == {
        "rdbEnabled": True, "rdbFrequency": frequency, "aofEnabled": False}  # fmt: skip


def test_private_endpoint_uses_managed_redis_group_and_zone_linked_to_the_network() -> None:
    mocks, _ = build(production=True, high_availability=True, protect=True)
    endpoint = only(mocks, "azure-native:network:PrivateEndpoint")
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["redisEnterprise"]
    assert connection["privateLinkServiceId"] == "cache-id"
    assert endpoint["subnet"]["id"] == "endpoints-subnet-id"
    zone = only(mocks, "azure-native:privatedns:PrivateZone")
    assert zone["privateZoneName"] == "privatelink.redis.azure.net"
    link = only(mocks, "azure-native:privatedns:VirtualNetworkLink")
    assert link["virtualNetwork"] == {"id": "vnet-id"} and link["registrationEnabled"] is False
    records = only(mocks, "azure-native:network:PrivateDnsZoneGroup")
    (config,) = records["privateDnsZoneConfigs"]
    assert config["privateDnsZoneId"] == "cache-endpoint-zone-id"


def test_url_carries_the_primary_key_over_tls_and_is_secret() -> None:
    mocks, seen = build(production=False, high_availability=False, protect=False)
    (call,) = [c for c in mocks.calls if c.token == "azure-native:redisenterprise:listDatabaseKeys"]
    assert call.args == {"clusterName": "rg-cache-abc123", "databaseName": "default",
                         "resourceGroupName": "rg"}  # fmt: skip
    url = urlparse(seen["url"])
    assert url.scheme == "rediss" and url.hostname == HOST and url.port == 10000
    assert url.path == "/0" and url.username == "default"  # as on AWS and locally
    assert unquote(url.password or "") == KEY  # what redis-py's parse_url hands to AUTH
    assert seen["url_is_secret"]


def test_redis_url_percent_encodes_every_reserved_character() -> None:
    assert redis_url("a/b+c=", "h", 10000) == "rediss://default:a%2Fb%2Bc%3D@h:10000/0"


def test_sku_list_is_the_sdk_enum_without_the_retiring_enterprise_tiers() -> None:
    sdk = {s.value for s in SkuName}
    assert set(MANAGED_REDIS_SKUS) <= sdk
    assert {s.split("_")[0] for s in sdk - set(MANAGED_REDIS_SKUS)} == {
        "Enterprise", "EnterpriseFlash"}  # fmt: skip


@pytest.mark.parametrize(
    "prefix", ["releasegate-production", "a--b_c.d" * 10, "-x-", "Upper.Case_Prefix"]
)
def test_cache_name_follows_the_cluster_name_rules(prefix: str) -> None:
    name = cache_name(prefix)
    assert 1 <= len(name) <= 60
    assert all(c.isalnum() or c == "-" for c in name)
    assert not name.startswith("-") and not name.endswith("-") and "--" not in name
    assert cache_name(prefix) == name and cache_name(prefix + "x") != name


def cached(cache: dict[str, Any], production: bool = False) -> dict[str, Any]:
    top: dict[str, Any] = {"cache": cache}
    if production:
        top["database"] = {"highAvailability": True}
    return azure({"production": production}, **top)


def test_azure_cache_defaults() -> None:
    spec = load(cached({"engine": "redis"})).cache
    assert spec.size == "Balanced_B0" and spec.replicas == 0 and not spec.automatic_failover
    production = load(cached({"engine": "redis"}, production=True)).cache
    assert production.replicas == 1 and production.automatic_failover
    assert production.deletion_protection


@pytest.mark.parametrize(
    ("cache", "production", "expected"),
    [
        ({"size": "cache.t4g.micro"}, False,
         "cache.size: 'cache.t4g.micro' is not valid; allowed: an Azure Managed Redis SKU: "
         "Balanced_{B0,B1,B3"),
        ({"size": "Enterprise_E10"}, False,
         "cache.size: 'Enterprise_E10' is not valid; allowed: an Azure Managed Redis SKU "
         "(Azure Cache for Redis Enterprise SKUs retire on 2027-03-31)"),
        ({"size": "balanced_b1"}, False, "cache.size: 'balanced_b1' is not valid"),
        ({"replicas": 2, "automaticFailover": True}, False,
         "cache.replicas: 2 is not valid; allowed: 0 or 1 on Azure"),
        ({"replicas": 1, "automaticFailover": False}, False,
         "cache.automaticFailover: false is not valid; allowed: true on Azure when replicas is 1"),
        ({"replicas": 0, "automaticFailover": False}, True,
         "cache.replicas: 0 is not valid; allowed: 1 on Azure production"),
        ({"engine": "valkey"}, False,
         "cache.engine: 'valkey' is not valid; allowed: redis on Azure"),
    ],
)  # fmt: skip
def test_bad_azure_cache_settings_fail_naming_key_value_and_allowed(
    cache: dict[str, Any], production: bool, expected: str
) -> None:
    assert expected in problems_of(cached(cache, production))


@pytest.mark.parametrize("size", ["Balanced_B0", "MemoryOptimized_M10", "ComputeOptimized_X3",
                                  "FlashOptimized_A250"])  # fmt: skip
def test_every_managed_redis_family_is_accepted(size: str) -> None:
    assert load(cached({"engine": "redis", "size": size})).cache.size == size


# The real program under mocks, per Azure stack file (both declare a cache; api lists REDIS_URL).

CLUSTER = "azure-native:redisenterprise:RedisEnterprise"
DATABASE = "azure-native:redisenterprise:Database"
ENDPOINT = "azure-native:network:PrivateEndpoint"
CACHE_TYPES = (CLUSTER, DATABASE)


@pytest.fixture(scope="module", params=AZURE_STACKS)
def cache_plan(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, evaluate(load_stack_config(request.param))


def test_cache_in_the_azure_program(cache_plan: tuple[str, Plan]) -> None:
    stack, plan = cache_plan
    production = stack == "azure-production"
    cluster = one(plan, CLUSTER, "cache")
    database = one(plan, DATABASE, "cache-database")
    assert cluster.protect and database.protect  # deletionProtection: true in both files
    assert cluster.inputs["minimumTlsVersion"] == "1.2"
    assert cluster.inputs["publicNetworkAccess"] == "Disabled"
    assert cluster.inputs["highAvailability"] == ("Enabled" if production else "Disabled")
    assert cluster.inputs["sku"] == {"name": "Balanced_B3" if production else "Balanced_B0"}
    assert database.inputs["clientProtocol"] == "Encrypted"
    assert database.inputs["persistence"]["rdbFrequency"] == ("1h" if production else "12h")
    endpoint = one(plan, ENDPOINT, "cache-endpoint")
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["redisEnterprise"]
    assert endpoint.inputs["subnet"]["id"] == "endpoints-id"  # the platform's endpoints subnet
    link = one(plan, "azure-native:privatedns:VirtualNetworkLink", "cache-endpoint-zone-link")
    assert link.inputs["privateZoneName"] == "privatelink.redis.azure.net"
    assert link.inputs["virtualNetwork"] == {"id": "vnet-id"}
    # The policy pack's cache rules pass on what the program registers.
    for r in (cluster, database):
        resource = Resource(r.type, r.inputs, r.protect, r.name)
        config = {"production": production}
        assert [m for rule in RULES if rule.name.startswith("azure-cache")
                for m in rule.check(resource, config)] == []  # fmt: skip


def test_only_services_listing_redis_url_read_it_by_reference(cache_plan: tuple[str, Plan]) -> None:
    stack, plan = cache_plan
    services = load_stack_config(stack).values["releasegate:services"]
    secret = one(plan, "azure-native:keyvault:Secret", "redis-url")
    assert secret.inputs["secretName"] == "redis-url"
    for name, spec in services.items():
        app = one(plan, "azure-native:app:ContainerApp", f"service-{name}")
        refs = {s["name"]: s for s in app.inputs["configuration"].get("secrets") or []}
        env = {e["name"]: e for c in app.inputs["template"]["containers"] for e in c["env"]}
        listed = "REDIS_URL" in (spec.get("secrets") or [])
        assert ("redis-url" in refs) is listed, name
        if listed:
            assert refs["redis-url"]["keyVaultUrl"].endswith("/secrets/redis-url")
            assert refs["redis-url"]["identity"] == f"identity-{name}-id"
            assert env["REDIS_URL"] == {"name": "REDIS_URL", "secretRef": "redis-url"}
            # The app waits for the cache's endpoint, zone link and records, and the database.
            for needed in (
                one(plan, ENDPOINT, "cache-endpoint"),
                one(plan, DATABASE, "cache-database"),
            ):
                assert depends_on(plan, app, needed), (name, needed.name)
        else:
            assert "REDIS_URL" not in env, name
    assert "REDIS_URL" in services["api"]["secrets"] and "secrets" not in services["web"]
    # The migration job reads DATABASE_URL only.
    job = one(plan, "azure-native:app:Job", "migration-job")
    assert [s["name"] for s in job.inputs["configuration"]["secrets"]] == ["database-url"]


def test_redis_url_is_stored_typed_and_never_in_plain_text() -> None:
    for stack in AZURE_STACKS:
        config = load_stack_config(stack)
        monitor = RevealingMonitor(config.values)
        plan = evaluate(config, monitor)
        stored = monitor.secrets["redis-url"]
        assert stored["contentType"] == "application/x-redis-url"
        url = urlparse(stored["value"])
        assert url.scheme == "rediss" and url.port == 10000 and url.path == "/0"
        assert url.username == "default"  # the user AWS and local name too
        assert url.hostname == f"{cache_name(f'releasegate-{stack}')}.westeurope.redis.azure.net"
        assert unquote(url.password or "") == "offline-access-key"
        # The offline plan never shows it.
        assert one(plan, "azure-native:keyvault:Secret", "redis-url").inputs["properties"] == (
            "[secret]"
        )


@pytest.mark.parametrize("stack", AZURE_STACKS)
def test_a_repin_touches_no_cache_resource(stack: str) -> None:
    base = load_stack_config(stack)
    changes = diff_plans(evaluate(base), evaluate(apply_sets(base, ["release.api=v1.4.1"])))
    touched = {(c.resource.type, c.resource.name) for c in changes}
    assert touched, "the re-pin changes the api's rollout"
    assert not {t for t in touched if t[0] in CACHE_TYPES or "cache" in t[1]
                or t[1] == "redis-url"}, touched  # fmt: skip


def test_a_stack_without_cache_has_no_endpoints_subnet_outside_private_network() -> None:
    config = load_stack_config("azure-staging")
    values = dict(config.values)
    del values["releasegate:cache"]
    services = {name: dict(spec) for name, spec in values["releasegate:services"].items()}
    services["api"]["secrets"] = ["DATABASE_URL"]
    values["releasegate:services"] = services
    plan = evaluate(replace(config, values=values))
    assert not [r for r in plan.resources if r.type in CACHE_TYPES or r.type == ENDPOINT]
    assert "endpoints" not in {r.name for r in plan.resources
                               if r.type == "azure-native:network:Subnet"}  # fmt: skip
    assert not [r for r in plan.resources if r.name == "redis-url"]
