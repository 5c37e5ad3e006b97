"""The ElastiCache node types the AWS cache accepts (value types only, no pulumi_aws import):
`infra.config_cache` checks `cache.size` against them before anything changes.

Source: the botocore elasticache 2015-02-02 service model, `CacheNode` documentation, "Current
generation" node types (creation supported; the previous generations "creation of new clusters
is not supported"). T2 is left out: the ElastiCache user guide ("Supported node types") says new
clusters can no longer be created on T2. Every type listed supports in-transit and at-rest
encryption on the engine versions we allow (ElastiCache user guide, "Data security in Amazon
ElastiCache": encryption on Valkey 7.2 or later and Redis OSS 4.0.10 or later); T4g/M6g/R6g
need Redis OSS 5.0.6 or later, below our Redis OSS floor (6.0).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_GRAVITON = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
CACHE_NODE_FAMILIES: Mapping[str, tuple[str, ...]] = {
    "t4g": ("micro", "small", "medium"),
    "t3": ("micro", "small", "medium"),
    "m7g": _GRAVITON,
    "m6g": _GRAVITON,
    "m5": ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge"),
    "m4": ("large", "xlarge", "2xlarge", "4xlarge", "10xlarge"),
    "r7g": _GRAVITON,
    "r6g": _GRAVITON,
    "r5": ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge"),
    "r4": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"),
}
"""Family -> sizes, as `cache.<family>.<size>`."""

CACHE_NODE_TYPE = re.compile(r"^cache\.(?P<family>[a-z0-9]+)\.(?P<size>[a-z0-9]+)$")
