"""`releasegate:promotion` and `release.promotedFrom` (infra/config_promotion.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import load_settings
from infra.settings import ConfigError, PromotedFrom, PromotionSpec, Settings

DIGEST = "sha256:" + "ab" * 32
PINS = {"api": "v1.2.0", "web": "v1.2.0", "migrations": "v1.2.0"}


def _load(config: dict[str, Any]) -> Settings:
    raw = {"cloud": "local", **config}
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    return load_settings("releasegate", "production", values.get, lambda _k: False,
                         all_keys=list(raw))  # fmt: skip


def _problems(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(config)
    return caught.value.problems


def test_promotion_defaults_to_no_source_and_a_30_minute_soak() -> None:
    assert _load({}).promotion == PromotionSpec(source=None, min_soak_minutes=30)


def test_promotion_reads_from_and_min_soak_minutes() -> None:
    settings = _load({"promotion": {"from": "staging", "minSoakMinutes": 0}})
    assert settings.promotion == PromotionSpec(source="staging", min_soak_minutes=0)
    assert _load({"promotion": {"from": "acme/releasegate/staging"}}).promotion.source == (
        "acme/releasegate/staging"
    )


@pytest.mark.parametrize(
    ("promotion", "expected"),
    [
        ({"minSoakMinutes": -1}, "promotion.minSoakMinutes: -1 is not valid; allowed: an integer"),
        ({"minSoakMinutes": 43201}, "promotion.minSoakMinutes: 43201 is not valid"),
        ({"minSoakMinutes": "30m"}, "promotion.minSoakMinutes: '30m' is not valid"),
        ({"from": "stag ing"}, "promotion.from: 'stag ing' is not valid; allowed: a stack name"),
        ({"soak": 5}, "promotion.soak: unknown setting"),
    ],
)
def test_bad_promotion_values_name_the_key(promotion: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in _problems({"promotion": promotion}))


def test_promoted_from_is_read_into_the_release() -> None:
    promoted = {"stack": "staging", "release": "0a1b2c3d4e5f", "pins": {"api": DIGEST}}
    release = _load({"release": {**PINS, "promotedFrom": promoted}}).release
    assert release is not None
    assert release.promoted_from == PromotedFrom("staging", "0a1b2c3d4e5f", {"api": DIGEST})
    assert _load({"release": PINS}).pinned_release.promoted_from is None


def test_a_release_with_only_promoted_from_and_no_pin_is_foundation_only() -> None:
    promoted = {"stack": "staging", "release": "0a1b2c3d4e5f", "pins": {"api": DIGEST}}
    both = {"promotedFrom": promoted, "allowMigrationsRollback": True}
    assert _load({"release": {"promotedFrom": promoted}}).release is None
    assert _load({"release": both}).release is None


def test_a_bad_promoted_from_is_refused_naming_each_problem() -> None:
    problems = _problems({"release": {**PINS, "promotedFrom": {
        "stack": "staging", "pins": {"apx": DIGEST, "web": "v1.2.0"}, "by": "me",
    }}})  # fmt: skip
    text = "\n".join(problems)
    assert "release.promotedFrom.release: missing" in text
    assert "release.promotedFrom.pins.apx: unknown image; did you mean 'api'?" in text
    assert "release.promotedFrom.pins.web: 'v1.2.0' is not valid; allowed: a digest" in text
    assert "release.promotedFrom.by: unknown setting" in text
    assert any("release.promotedFrom" in p for p in _problems(
        {"release": {**PINS, "promotedFrom": "staging"}}
    ))  # fmt: skip


def test_a_pin_written_tag_at_digest_keeps_both_and_refuses_a_mutable_tag() -> None:
    release = _load({"release": {**PINS, "api": f"v1.5.0@{DIGEST}"}}).pinned_release
    assert (release.pins["api"].tag, release.pins["api"].digest) == ("v1.5.0", DIGEST)
    assert release.pins["api"].reference == DIGEST  # the registry is asked for the digest
    bare = _load({"release": {**PINS, "api": DIGEST}}).pinned_release.pins["api"]
    assert (bare.tag, bare.digest) == (None, DIGEST)
    problems = _problems({"release": {**PINS, "api": f"latest@{DIGEST}"}})
    assert any("release.api" in p and "'latest' before its digest" in p for p in problems)
