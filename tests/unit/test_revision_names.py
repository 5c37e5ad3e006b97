"""Container Apps revision names: Azure's rules (lower-case letters, digits, single '-', a
letter first, a letter or digit last, the whole name at most 54) and never a name the app had."""

from __future__ import annotations

from typing import Any

import pytest

from components.azure.naming import app_name
from components.azure.revision_names import (
    MAX_REVISION_NAME,
    base36,
    new_suffix,
    revision_name,
    suffix_problem,
)
from components.azure.revision_rollout import content

FINGERPRINT = "0123abcd" + "e" * 56
NOW = 1_795_000_000  # 2026-11


@pytest.mark.parametrize(
    "suffix",
    ["1abc", "Rabc", "r-", "r--a", "r_a", "r.a", "-r", "ra-", "r" * 60],
)
def test_suffixes_azure_refuses_are_refused(suffix: str) -> None:
    assert suffix_problem("api", suffix) is not None


def test_the_whole_revision_name_counts_against_54() -> None:
    app = "a" * 32  # the longest app name (components.azure.naming)
    assert suffix_problem(app, "r" + "a" * 19) is None  # 32 + 2 + 20 = 54
    assert "more than 54" in str(suffix_problem(app, "r" + "a" * 20))


def test_a_new_suffix_is_valid_for_the_longest_app_name_and_carries_the_content() -> None:
    app = app_name("releasegate-a-very-long-stack-name-indeed", "worker-service")
    assert len(app) <= 32
    suffix = new_suffix(app, FINGERPRINT, set(), NOW)
    assert suffix_problem(app, suffix) is None
    assert suffix.startswith("r0123abcd-") and suffix.endswith(base36(NOW))
    assert len(revision_name(app, suffix)) <= MAX_REVISION_NAME


def test_a_new_suffix_is_never_a_revision_name_the_app_has_inactive_ones_included() -> None:
    first = new_suffix("api", FINGERPRINT, set(), NOW)
    taken = {revision_name("api", first)}
    second = new_suffix("api", FINGERPRINT, taken, NOW)  # same content, same second
    assert second != first
    assert revision_name("api", second) not in taken
    third = new_suffix("api", FINGERPRINT, taken | {revision_name("api", second)}, NOW)
    assert len({first, second, third}) == 3


def test_base36() -> None:
    assert base36(0) == "0" and base36(35) == "z" and base36(36) == "10"


def test_content_ignores_the_defaults_arm_adds_to_a_revisions_template() -> None:
    ours: dict[str, Any] = {"containers": [{"name": "api", "image": "r/api@sha256:1",
                            "env": [{"name": "A", "value": "1"},
                                    {"name": "S", "secretRef": "s"}],
                            "resources": {"cpu": 0.5, "memory": "1Gi"},
                            "probes": [{"type": "Readiness", "periodSeconds": 5,
                                        "failureThreshold": 3, "timeoutSeconds": 3,
                                        "httpGet": {"path": "/h", "port": 80,
                                                    "scheme": "HTTP"}}]}],
            "scale": {"minReplicas": 2, "maxReplicas": 2}}  # fmt: skip
    theirs = {"revisionSuffix": "r1-x",
              "containers": [{**ours["containers"][0],
                              "env": list(reversed(ours["containers"][0]["env"])),
                              "resources": {"cpu": 0.5, "memory": "1Gi",
                                            "ephemeralStorage": "2Gi"},
                              "probes": [{**ours["containers"][0]["probes"][0],
                                          "successThreshold": 1,
                                          "initialDelaySeconds": 1}]}],
              "scale": {"minReplicas": 2, "maxReplicas": 2, "rules": None}}  # fmt: skip
    assert content(theirs) == content(ours)
    changed = {**ours, "scale": {"minReplicas": 3, "maxReplicas": 3}}
    assert content(changed) != content(ours)
