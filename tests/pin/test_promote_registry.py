"""`promote`'s registry check (infra/promote.py check_registry) with the real OCI resolver
against Debian's docker-registry: a promoted digest the target's registry lacks is refused by
name, one it holds passes, and a registry that wants credentials nobody gave is refused naming
what it needs (nothing is written in any case: the check runs before the stack file is read)."""

from __future__ import annotations

import json

import pytest

from components.gates.oci import ResolveRequest
from infra.config import load_settings
from infra.promote import (
    Pin,
    PromotionRefusedError,
    check_registry,
    default_resolver,
    registry_requests,
)
from infra.settings import Settings
from tests.pin.conftest import Registry

pytestmark = [pytest.mark.servers]

ABSENT = "sha256:" + "0" * 64


def _target() -> Settings:
    raw = {"cloud": "local", "release": {"api": "v1.0.0", "web": "v1.0.0", "migrations": "m1"}}
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    return load_settings("releasegate", "production", values.get, lambda _k: False,
                         all_keys=list(raw))  # fmt: skip


def _requests(
    target: Settings, registry: Registry, pins: dict[str, Pin]
) -> dict[str, ResolveRequest]:
    url = f"{registry.address}/{registry.repository}"
    return registry_requests(target, dict.fromkeys(("api", "web", "migrations"), url), pins)


def test_a_digest_the_registry_lacks_is_refused_and_one_it_holds_passes(
    registry: Registry,
) -> None:
    target = _target()
    held = registry.images.digests["v1.0.0"]
    resolve = default_resolver(target)
    check_registry(target, _requests(target, registry, {"api": Pin("v1.0.0", held)}), resolve)
    pins = {"api": Pin("v1.0.0", held), "migrations": Pin("m9", ABSENT)}
    with pytest.raises(PromotionRefusedError) as caught:
        check_registry(target, _requests(target, registry, pins), resolve)
    message = str(caught.value)
    assert f"not in production's registry: migrations ({registry.address}/" in message
    absent = message.partition("Copy the images first")[0]
    assert ABSENT in absent and "api (" not in absent


def test_a_registry_refusing_anonymous_lookups_is_refused_naming_the_credentials(
    basic_registry: Registry,
) -> None:
    target = _target()
    pins = {"api": Pin("v1.0.0", basic_registry.images.digests["v1.0.0"])}
    with pytest.raises(PromotionRefusedError) as caught:
        check_registry(target, _requests(target, basic_registry, pins), default_resolver(target))
    assert "cannot check production's registry" in str(caught.value)
    assert "RELEASEGATE_REGISTRY_USERNAME" in str(caught.value)
