"""The local cache component built under mocks, and what it registered: the password it was
given, the REDIS_URL it hands to services, the container's and volume's inputs (the uploads
unwrapped from their secret)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pulumi

from components.local.cache import LocalCache, LocalCacheArgs
from infra.pulumi_internals import is_secret, unwrap_secret
from tests.mocks import record

PREFIX = "releasegate-dev"


@dataclass(frozen=True)
class Built:
    password: str
    url: str
    container: dict[str, Any]
    volume: dict[str, Any]


def build(engine: str = "redis", prefix: str = PREFIX, network: str | None = None) -> Built:
    password = secrets.token_urlsafe(30)
    urls: list[str] = []

    def program() -> None:
        cache = LocalCache(
            "cache",
            LocalCacheArgs(
                prefix=prefix,
                network_name=network or f"{prefix}-net",
                engine=engine,
                engine_version="7.0",
                password=pulumi.Output.secret(password),
                protect=True,
            ),
        )
        cache.url.apply(urls.append)

    recorder = record(program)
    by_type = {r.typ: dict(r.inputs) for r in recorder.resources}
    container = by_type["docker:index/container:Container"]
    # The uploads are built from the secret password: the engine keeps them secret in state.
    assert is_secret(container["uploads"])
    container["uploads"] = unwrap_secret(container["uploads"])
    return Built(
        password=password,
        url=urls[0],
        container=container,
        volume=by_type["docker:index/volume:Volume"],
    )
