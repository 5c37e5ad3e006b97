"""The local cache's engineVersion is an image tag: a version only a cloud has (Redis OSS 7.1,
ElastiCache's `6.x`) fails before anything changes instead of at the image pull."""

from __future__ import annotations

import pytest

from tests.unit.test_config import load, problems_of


@pytest.mark.parametrize(
    ("engine", "version"),
    [("valkey", None), ("valkey", "8.1"), ("redis", "7.4"), ("redis", "7.2.5")],
)
def test_released_versions_are_the_image_tags(engine: str, version: str | None) -> None:
    cache = {"engine": engine, **({"engineVersion": version} if version else {})}
    spec = load({"cache": cache}).cache
    assert spec is not None and spec.engine == engine
    assert spec.engine_version == (version or "8.0")


@pytest.mark.parametrize(
    ("cache", "shown"),
    [
        ({"engine": "redis"}, "'7.1'"),  # the redis default is ElastiCache's 7.1
        ({"engine": "redis", "engineVersion": "6.x"}, "'6.x'"),
        ({"engine": "valkey", "engineVersion": "8"}, "'8'"),
    ],
)
def test_a_version_the_image_does_not_have_is_refused(cache: dict[str, str], shown: str) -> None:
    message = problems_of({"cache": cache})
    assert f"releasegate:cache.engineVersion: {shown} is not valid" in message
    assert "locally the tag of the" in message
