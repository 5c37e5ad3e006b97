"""Judging one answer against a check, without sockets: assertions, identity, redaction.

What a user relies on: each op compares as documented and strictly by JSON type, a dotted
path indexes lists, a missing value or a non-JSON body fails with a reason naming the path,
and whatever the answer echoes comes back redacted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.gates.http_checks import BodyCheck, HttpCheck, assertion_failure, check_url
from components.gates.http_probe import GateSettings, judge_answer

SECRET = "s3cr3t-value-9f8e"
BODY = {
    "status": "ok",
    "summary": {"health": "ok", "rolesBlocked": 0, "ratio": 0.5, "ready": True},
    "items": [{"status": "ok"}, {"status": "degraded"}],
    "version": "v2",
}


def fails(path: str, op: str, value: Any, document: Any = None) -> str | None:
    return assertion_failure(BodyCheck(path, op, value), BODY if document is None else document)


@pytest.mark.parametrize(
    ("path", "op", "value"),
    [
        ("status", "equals", "ok"),
        ("summary.rolesBlocked", "equals", 0),
        ("summary.rolesBlocked", "equals", 0.0),
        ("summary.ready", "equals", True),
        ("items.1.status", "equals", "degraded"),
        ("items", "equals", [{"status": "ok"}, {"status": "degraded"}]),
        ("status", "notEquals", "degraded"),
        ("summary.health", "oneOf", ["ok", "degraded-read-only"]),
        ("summary.ratio", "lessThan", 1),
        ("summary.rolesBlocked", "greaterThan", -1),
    ],
)
def test_assertions_that_hold(path: str, op: str, value: Any) -> None:
    assert fails(path, op, value) is None


@pytest.mark.parametrize(
    ("path", "op", "value", "reason"),
    [
        ("status", "equals", "degraded", 'status: expected "degraded", got "ok"'),
        ("summary.rolesBlocked", "equals", False, "summary.rolesBlocked: expected false, got 0"),
        ("summary.ready", "equals", 1, "summary.ready: expected 1, got true"),
        ("summary.rolesBlocked", "equals", "0", 'summary.rolesBlocked: expected "0", got 0'),
        ("status", "notEquals", "ok", 'status: expected anything but "ok", got "ok"'),
        ("items.1.status", "oneOf", ["ok"], 'items.1.status: expected one of ["ok"], got'),
        ("summary.ratio", "greaterThan", 1, "summary.ratio: expected greater than 1, got 0.5"),
        ("status", "lessThan", 3, 'status: expected a number less than 3, got "ok"'),
        ("summary.ready", "lessThan", 3, "expected a number less than 3, got true"),
        ("items.2.status", "equals", "ok", "items.2.status: missing from the JSON body"),
        ("summary.health.value", "equals", "ok", "summary.health.value: missing"),
        ("items.first", "equals", "ok", "items.first: missing"),
    ],
)
def test_assertions_that_fail_say_why(path: str, op: str, value: Any, reason: str) -> None:
    failure = fails(path, op, value)
    assert failure is not None
    assert reason in failure


def settings(**overrides: Any) -> GateSettings:
    values: dict[str, Any] = {
        "service": "api", "expected_versions": ("v2",), "url": "https://api.example.test/health",
        "version_field": "version", "known_secrets": (SECRET,),
    }
    values.update(overrides)
    return GateSettings(**values)


def test_a_check_passes_only_with_its_status_version_and_assertions() -> None:
    ok = HttpCheck("/health", assertions=(BodyCheck("status", "equals", "ok"),))
    body = json.dumps(BODY).encode()
    assert judge_answer(settings(checks=(ok,)), 200, {}, body, ok) == (
        True, "v2", "status 200, version v2, 1 assertions hold")
    degraded = json.dumps({**BODY, "status": "degraded"}).encode()
    healthy, version, detail = judge_answer(settings(checks=(ok,)), 200, {}, degraded, ok)
    assert (healthy, version) == (False, "v2")
    assert detail == 'status: expected "ok", got "degraded"'
    not_json = HttpCheck("/", carries_version=False, assertions=ok.assertions)
    assert judge_answer(settings(), 200, {}, b"<html>", not_json)[2] == (
        'status: the body is not JSON (expected "ok")')


def test_without_http_identity_no_version_is_asked_for() -> None:
    plain = HttpCheck("/healthz")
    body = json.dumps({"status": "ok"}).encode()
    assert judge_answer(settings(http_identity=False, version_field=None), 200, {}, body,
                        plain) == (True, None, "status 200")
    assert judge_answer(settings(), 200, {}, body, plain)[0] is False


def test_what_an_answer_echoes_comes_back_redacted() -> None:
    check = HttpCheck("/health", assertions=(BodyCheck("status", "equals", "ok"),))
    echoed = json.dumps({"status": SECRET, "version": SECRET}).encode()
    healthy, version, detail = judge_answer(settings(), 200, {}, echoed, check)
    assert not healthy
    assert version == "[redacted]"
    assert SECRET not in detail
    right_version = json.dumps({"status": SECRET, "version": "v2"}).encode()
    assert judge_answer(settings(), 200, {}, right_version, check)[2] == (
        'status: expected "ok", got "[redacted]"')


def test_a_check_path_is_resolved_on_the_origin_of_the_url() -> None:
    base = "https://deploy:pw@api.example.test:8443/health/ready?full=1"
    assert check_url(base, "/readyz?x=1") == "https://deploy:pw@api.example.test:8443/readyz?x=1"
