"""What the local target's cache accepts: `engineVersion` is the tag of the image it runs
(`valkey/valkey:<version>` or `redis:<version>`), so it must be a release the image has.

Checked before anything changes, so a version that exists only on a cloud fails with a clear
error instead of an image pull failure in the middle of `pulumi up`.
"""

from __future__ import annotations

import re

from infra.config_reader import Problems
from infra.settings import KEY_CACHE, CacheSpec

LOCAL_ENGINE_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
"""`major.minor` or `major.minor.patch`: the official images tag every release that way
(docker-library/official-images `library/redis`, e.g. "Tags: 8.10.2, 8.10, 8"); a major
alone (`8`) is a tag too but moves to each new minor release, so it is refused; `x` wildcards
are ElastiCache's notation, not tags."""
NOT_RELEASED = {("redis", "7.1")}
"""Redis OSS went from 7.0 to 7.2; 7.1 is an ElastiCache-only version, which infra.config_cache
offers as its redis default (docker-library/redis has 7.0, 7.2 and 7.4 folders, no 7.1)."""


def check_local_cache(problems: Problems, cache: CacheSpec) -> None:
    version = cache.engine_version
    if not LOCAL_ENGINE_VERSION.match(version) or (cache.engine, version) in NOT_RELEASED:
        image = "valkey/valkey" if cache.engine == "valkey" else "redis"
        examples = "8.0, 8.1" if cache.engine == "valkey" else "7.2, 7.4"
        problems.add(f"{KEY_CACHE}.engineVersion", version,
                     f"locally the tag of the {image} image it runs: a released "
                     f"{cache.engine} version such as {examples}")  # fmt: skip
