"""The dev stack's cache under the offline plan: a Valkey container with a protected data
volume on the stack's network, no published port, its password only in secret inputs;
REDIS_URL reaches exactly the services that list it, as a file; the ledger names the cache."""

from __future__ import annotations

import pytest

from infra.plan import Plan, PlannedResource, apply_sets, evaluate, load_stack_config
from infra.render import plan_json, plan_text
from infra.settings import ConfigError

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def dev() -> Plan:
    return evaluate(load_stack_config("dev"))


def named(plan: Plan, name: str) -> PlannedResource:
    return next(r for r in plan.resources if r.name == name)


def test_the_cache_is_a_valkey_container_with_a_protected_volume(dev: Plan) -> None:
    component = named(dev, "cache")
    assert component.type == "releasegate:local:Cache"
    server, volume = named(dev, "cache-server"), named(dev, "cache-data")
    assert server.parent == volume.parent == component.urn
    assert named(dev, "cache-image").inputs["name"] == "valkey/valkey:8.0"
    assert server.inputs["command"] == ["valkey-server", "/run/secrets/cache.conf"]
    assert server.inputs["networksAdvanced"] == [{"name": "releasegate-dev-net"}]
    assert "ports" not in server.inputs  # reachable on the stack's network only
    assert server.inputs["volumes"] == [
        {"containerPath": "/data", "volumeName": "releasegate-dev-cache-data"}
    ]
    assert server.inputs["uploads"] == "[secret]"
    assert server.protect and volume.protect  # deletionProtection: true
    assert "envs" not in server.inputs and "labels" not in server.inputs


def test_redis_url_reaches_only_the_services_that_list_it_as_a_file(dev: Plan) -> None:
    envs = {r.name: r.inputs.get("envs") or [] for r in dev.resources
            if r.type == CONTAINER and r.name.startswith("service-")}  # fmt: skip
    file_env = "REDIS_URL_FILE=/run/secrets/REDIS_URL"
    with_url = {name for name, env in envs.items() if file_env in env}
    assert with_url == {"service-api-container", "service-worker-container"}
    assert not any(e.startswith("REDIS_URL=") for env in envs.values() for e in env)
    assert named(dev, "service-web-container").inputs["uploads"] == []


def test_the_password_never_prints(dev: Plan) -> None:
    """The offline plan's made-up password (the mock's RandomPassword result) is nowhere in
    the text or JSON plan, nor the URL built from it."""
    for text in (plan_text(dev), plan_json(dev)):
        assert "offline-secrets-cache-password" not in text
        assert "redis://" not in text


def test_the_ledger_names_the_cache_the_release_ran_against(dev: Plan) -> None:
    assert dev.outputs["ledger"]["current"]["cache"] == {
        "engine": "valkey", "engine_version": "8.0", "name": "releasegate-dev-cache",
    }  # fmt: skip


def test_without_a_cache_nothing_of_it_is_built_and_redis_url_is_refused() -> None:
    config = load_stack_config("dev")
    config.values.pop("releasegate:cache")
    no_url = apply_sets(config, ["services.api.secrets=[DATABASE_URL, SIGNING_KEY]",
                                 "services.worker.secrets=[DATABASE_URL]"])  # fmt: skip
    plan = evaluate(no_url)
    assert not [r.urn for r in plan.resources if "cache" in r.name]
    assert "cache" not in plan.outputs["ledger"]["current"]
    with pytest.raises(ConfigError, match="lists REDIS_URL, but the stack declares no cache"):
        evaluate(config)
