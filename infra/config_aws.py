"""Loads and validates `releasegate:aws` into `AwsSpec` (see `infra.settings_aws`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infra.config_reader import Problems, Reader
from infra.settings import KEY_AWS
from infra.settings_aws import AwsSpec

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def load_aws(problems: Problems, raw: Mapping[str, Any], provider_region: str | None) -> AwsSpec:
    """`provider_region` is the stack's `aws:region` (the provider's own key)."""
    r = Reader(problems, KEY_AWS, raw, {"region"})
    region = r.string("region", provider_region, REGION_PATTERN, "an AWS region such as eu-west-1")
    if region is None:
        problems.raw(f"{KEY_AWS}.region: missing; set aws:region (or releasegate:aws.region)")
        region = ""
    return AwsSpec(region=region)
