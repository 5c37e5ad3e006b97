"""`releasegate:promotion` and `release.promotedFrom`: the config side of `python -m infra
promote` (infra/promote.py).

`promotion` is read on the stack promoted INTO: `from` names the stack it promotes from by
default, `minSoakMinutes` how long that stack's release must have run since its gates passed.
That is Kargo's `requiredSoakTime` ("a minimum duration for which the requested Freight must
have continuously occupied ('soaked in') an upstream Stage before becoming available for
promotion to this Stage"; akuity/kargo api/v1alpha1/stage_types.go, FreightSources, checked in
stage_helpers.go IsFreightAvailable as `GetLongestSoak(source) >= RequiredSoakTime`). Kargo has
no default (nil: no soak); ours is 30 minutes, because the health gate only proves a release
starts and answers: leaks, exhausted connection pools and slow jobs show after it has run under
load for a while, and half an hour is a typical alerting window. 0 turns it off.

`release.promotedFrom` is written by `promote` next to the pins it copied; it never decides
what runs. A release block holding it (or only `allowMigrationsRollback`) but no pin stays a
foundation-only stack (infra/config.py `_load_release`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infra.config_reader import Problems, Reader
from infra.settings import KEY_PROMOTION, KEY_RELEASE, PromotedFrom, PromotionSpec

PROMOTED_FROM = "promotedFrom"
DEFAULT_SOAK_MINUTES = 30
MAX_SOAK_MINUTES = 30 * 24 * 60
"""Thirty days: longer is a freeze, not a soak (releasegate:freeze)."""

STACK_NAME = re.compile(r"^(?:[A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]{1,100}$")
"""A stack name, optionally `org/` or `org/project/` qualified: "Stack names may only contain
alphanumeric characters, hyphens, underscores, or periods" (pulumi.com/docs/iac/concepts/stacks)."""
RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def load_promotion(problems: Problems, raw: Mapping[str, Any]) -> PromotionSpec:
    r = Reader(problems, KEY_PROMOTION, raw, {"from", "minSoakMinutes"})
    source = r.string(
        "from", None, STACK_NAME, "a stack name such as staging (letters, digits, - _ .)"
    )
    soak = r.integer("minSoakMinutes", DEFAULT_SOAK_MINUTES, 0, MAX_SOAK_MINUTES)
    return PromotionSpec(source=source, min_soak_minutes=soak)


def load_promoted_from(
    problems: Problems, raw: object, images: list[str]
) -> PromotedFrom | None:
    """`release.promotedFrom` ({stack, release, pins: {image: digest}}), or None when absent.
    `images` are the names a pin may have: every service and `migrations`."""
    if raw is None:
        return None
    key = f"{KEY_RELEASE}.{PROMOTED_FROM}"
    if not isinstance(raw, Mapping):
        problems.add(key, raw, "an object {stack, release, pins} (written by `promote`)")
        return None
    r = Reader(problems, key, raw, {"stack", "release", "pins"})
    stack = r.string("stack", None, STACK_NAME, "the stack name promoted from")
    release = r.string("release", None, RELEASE_ID, "the ledger release id promoted from")
    for name, value in (("stack", stack), ("release", release)):
        if value is None and name not in raw:
            problems.raw(f"releasegate:{key}.{name}: missing; `promote` writes it")
    pins = raw.get("pins")
    digests: dict[str, str] = {}
    if not isinstance(pins, Mapping) or not pins:
        problems.add(f"{key}.pins", pins, "an object image: sha256:<64 hex> (one or more)")
    else:
        for name, digest in pins.items():
            if name not in images:
                problems.unknown(f"{key}.pins", str(name), images, what="image")
            elif not isinstance(digest, str) or not DIGEST.match(digest):
                problems.add(f"{key}.pins.{name}", digest, "a digest sha256:<64 hex>")
            else:
                digests[str(name)] = digest
    if stack is None or release is None or not digests:
        return None
    return PromotedFrom(stack=stack, release=release, pins=digests)
