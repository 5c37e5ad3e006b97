"""The health gate's `checks` and `identity` inputs: their problems, and their typed form.

Kept apart from `health_gate` (which validates the rest of the inputs) so that the rules for
what a check may ask sit next to each other. Every problem names its place precisely
(`checks[1].assertions[0].op`) with one reason; values still unknown during a preview pass.

`identity` says where an answer carries the served build: a JSON `field` (dotted path), a
`header`, or `none`. With `none`, no HTTP answer proves which build serves, so the platform
check (the running tasks, containers or revision run the pinned digest) is the identity, and a
gate without a platform input is refused: identity is never skipped silently. When `identity`
is set it replaces the older `version_field`/`version_header` inputs, which are then ignored;
without it they still say where the version is (state and callers from before `identity`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from components.gates.http_checks import (
    IDENTITY_SOURCES,
    METHODS,
    OPS,
    BodyCheck,
    HttpCheck,
)
from components.gates.provider_base import is_unknown, is_whole

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""An HTTP header name (RFC 9110 `token`)."""
FIELD_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
"""A dotted JSON path: `version`, `build.version`, `items.0.status`."""
CHECK_PATH = re.compile(r"^/(?!/)[^\s#]*$")
"""An absolute path (and query) on the service's origin; `//host` would name another host."""

CHECK_KEYS: tuple[str, ...] = (
    "path", "method", "body", "expected_status", "assertions", "carries_version",
)
ASSERTION_KEYS: tuple[str, ...] = ("path", "op", "value")
IDENTITY_KEYS: tuple[str, ...] = ("source", "name")

Problem = tuple[str, str]


def _known(value: object) -> bool:
    return not is_unknown(value, deep=True)


def _unknown_keys(value: Mapping[str, Any], known: Sequence[str], at: str) -> list[Problem]:
    return [
        (f"{at}.{key}", f"unknown key; known keys: {', '.join(known)}")
        for key in sorted(set(value) - set(known), key=str)
    ]


def _json_problem(value: object) -> str | None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"is not JSON ({exc})"
    return None


def _is_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _value_problem(op: str, value: object) -> str | None:
    if op == "oneOf":
        if not isinstance(value, list | tuple) or not value:
            return f"oneOf compares with a non-empty list of values, got {value!r}"
    elif op in ("lessThan", "greaterThan") and not _is_number(value):
        return f"{op} compares with a number, got {value!r}"
    return None if (problem := _json_problem(value)) is None else problem


def assertion_problems(assertion: object, at: str) -> list[Problem]:
    """Problems of one `{path, op, value}` assertion at `at` (`checks[0].assertions[1]`)."""
    if not _known(assertion):
        return []
    if not isinstance(assertion, Mapping):
        return [(at, f"must be a mapping {{path, op, value}}, got {assertion!r}")]
    problems = _unknown_keys(assertion, ASSERTION_KEYS, at)
    path = assertion.get("path")
    if _known(path) and not (isinstance(path, str) and FIELD_PATH.match(path)):
        problems.append((f"{at}.path", "must be a dotted path into the JSON body such as "
                         f"summary.health or items.0.status, got {path!r}"))
    op = assertion.get("op")
    if _known(op) and op not in OPS:
        problems.append((f"{at}.op", f"must be one of {', '.join(OPS)}, got {op!r}"))
    elif _known(op) and _known(assertion.get("value")) and (
        problem := _value_problem(str(op), assertion.get("value"))
    ):
        problems.append((f"{at}.value", problem))
    return problems


def check_problems(check: object, at: str, identity_source: str | None) -> list[Problem]:
    """Problems of one check at `at` (`checks[1]`); `identity_source` None while unknown."""
    if not _known(check) and not isinstance(check, Mapping):
        return []
    if not isinstance(check, Mapping):
        return [(at, "must be a mapping {path, method, expected_status, assertions, "
                     f"carries_version}}, got {check!r}")]
    problems = _unknown_keys(check, CHECK_KEYS, at)
    path = check.get("path")
    if _known(path) and not (isinstance(path, str) and CHECK_PATH.match(path)):
        problems.append((f"{at}.path", "must be a path on the service's origin starting "
                         f"with one / (such as /health/ready), got {path!r}"))
    method = check.get("method") or "GET"
    if not _known(method):
        method = None  # unknown until the update: nothing below depends on a guess
    elif method not in METHODS:
        problems.append((f"{at}.method", f"must be one of {', '.join(METHODS)}, got {method!r}"))
    body = check.get("body")
    if body is not None and _known(body) and method is not None:
        if method != "POST":
            problems.append((f"{at}.body", f"only a POST sends a body, this check is {method}"))
        elif not isinstance(body, Mapping):
            problems.append((f"{at}.body", f"must be a JSON object, got {body!r}"))
        elif problem := _json_problem(body):
            problems.append((f"{at}.body", problem))
    status = check.get("expected_status")
    if status is not None and _known(status) and not (is_whole(status) and 100 <= status <= 599):
        problems.append((f"{at}.expected_status",
                         f"must be an HTTP status 100-599, got {status!r}"))
    carries = check.get("carries_version")
    if carries is not None and _known(carries) and not isinstance(carries, bool):
        problems.append((f"{at}.carries_version", f"must be true or false, got {carries!r}"))
    elif carries is not False and method == "HEAD" and identity_source == "field":
        problems.append((f"{at}.carries_version",
                         "a HEAD answer has no body to read the version field from: set "
                         "carries_version false, or take the version from a header"))
    assertions = check.get("assertions")
    if assertions is None or (not _known(assertions) and not isinstance(assertions, list)):
        return problems
    if not isinstance(assertions, list | tuple):
        problems.append((f"{at}.assertions",
                         f"must be a list of {{path, op, value}}, got {assertions!r}"))
    elif assertions and method == "HEAD":
        problems.append((f"{at}.assertions", "a HEAD answer has no body to assert on: use "
                         "GET, or drop the assertions"))
    else:
        for index, assertion in enumerate(assertions):
            problems += assertion_problems(assertion, f"{at}.assertions[{index}]")
    return problems


def identity_problems(inputs: Mapping[str, Any]) -> list[Problem]:
    """Problems of the `identity` input. When it is set, `version_field` and
    `version_header` are ignored (the release graph still passes the stack-wide ones)."""
    identity = inputs.get("identity")
    if identity is None or (not _known(identity) and not isinstance(identity, Mapping)):
        return []
    if not isinstance(identity, Mapping):
        return [("identity", "must be {source: field|header|none, name: ...}, "
                             f"got {identity!r}")]
    problems = _unknown_keys(identity, IDENTITY_KEYS, "identity")
    source, name = identity.get("source"), identity.get("name")
    if not _known(source):
        return problems
    if source not in IDENTITY_SOURCES:
        return [*problems, ("identity.source",
                            f"must be one of {', '.join(IDENTITY_SOURCES)}, got {source!r}")]
    service = inputs.get("service")
    if source == "none":
        if name is not None:
            problems.append(("identity.name", f"identity source none takes no name, got "
                             f"{name!r}"))
        if inputs.get("platform") is None:
            problems.append(("identity", f"service {service!r}: identity none leaves the "
                             "platform's check of the running digest as the only proof of "
                             "the served build, but this gate has no platform check; take "
                             "the version from a JSON field or a header"))
    else:
        pattern, what = ((FIELD_PATH, "a dotted JSON path such as build.version")
                         if source == "field"
                         else (HEADER_NAME, "an HTTP header name such as X-Release-Version"))
        if _known(name) and not (isinstance(name, str) and pattern.match(name)):
            problems.append(("identity.name", f"must be {what}, got {name!r}"))
        if inputs.get("url") is None:
            problems.append(("identity", f"service {service!r}: source {source} reads the "
                             "version from an HTTP answer, but the gate has no url; use "
                             "source none (the platform check is the identity)"))
    return problems


def checks_problems(inputs: Mapping[str, Any]) -> list[Problem]:
    """Problems of the `checks` input, including identity a check must carry."""
    checks = inputs.get("checks")
    if checks is None or (not _known(checks) and not isinstance(checks, list | tuple)):
        return []
    if not isinstance(checks, list | tuple):
        return [("checks", f"must be a list of checks, got {checks!r}")]
    if inputs.get("url") is None:
        if checks:
            return [("checks", "only apply to an HTTP gate; set url too, or leave them unset")]
        return []
    if not checks:
        return [("checks", "must list at least one check, such as "
                           "{path: /health, method: GET, expected_status: 200}")]
    source = identity_source(inputs)
    problems: list[Problem] = []
    for index, check in enumerate(checks):
        problems += check_problems(check, f"checks[{index}]", source)
    carried = [isinstance(c, Mapping) and c.get("carries_version") is not False for c in checks]
    if source in ("field", "header") and _known(checks) and not any(carried):
        problems.append(("checks", f"no check carries the version, so the identity "
                         f"(source {source}) is never verified: set carries_version on at "
                         "least one check, or identity source none with a platform check"))
    return problems


def identity_source(inputs: Mapping[str, Any]) -> str | None:
    """`field`, `header` or `none` as the inputs give it (the legacy keys when no
    `identity`); None while unknown."""
    identity = inputs.get("identity")
    if identity is None:
        if inputs.get("version_header") is not None:
            return "header"
        return "field" if inputs.get("version_field") is not None else "none"
    if not isinstance(identity, Mapping) or not _known(identity.get("source")):
        return None
    source = identity.get("source")
    return source if isinstance(source, str) else None


def engine_json(value: Any) -> Any:
    """`value` with whole floats back to integers, at any depth: the engine sends every number
    as a double (`is_whole`), so a dry-run body's `{"limit": 10}` would otherwise be posted as
    `{"limit": 10.0}`, which an API validating integers strictly refuses."""
    if isinstance(value, Mapping):
        return {key: engine_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [engine_json(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def checks_from_inputs(inputs: Mapping[str, Any], default_status: int) -> tuple[HttpCheck, ...]:
    """The typed checks of validated inputs (empty when `checks` is unset)."""
    return tuple(
        HttpCheck(
            path=str(check["path"]),
            method=str(check.get("method") or "GET"),
            body=None if check.get("body") is None else engine_json(check["body"]),
            expected_status=int(check.get("expected_status") or default_status),
            assertions=tuple(
                BodyCheck(str(a["path"]), str(a["op"]), engine_json(a.get("value")))
                for a in check.get("assertions") or ()
            ),
            carries_version=check.get("carries_version") is not False,
        )
        for check in inputs.get("checks") or ()
    )


def identity_from_inputs(inputs: Mapping[str, Any]) -> tuple[str | None, str | None, bool]:
    """(version_field, version_header, http_identity) of validated inputs."""
    identity = inputs.get("identity")
    if identity is None:
        return inputs.get("version_field"), inputs.get("version_header"), True
    source, name = identity.get("source"), identity.get("name")
    return (name if source == "field" else None, name if source == "header" else None,
            source != "none")


def identity_evidence(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Which identity the gate proved, for the evidence: `{source, name}`; a gate without
    a url proves it through the platform only (source none)."""
    field, header, http_identity = identity_from_inputs(inputs)
    if inputs.get("url") is None or not http_identity:
        return {"source": "none", "name": None}
    if header is not None:
        return {"source": "header", "name": header}
    return {"source": "field", "name": field}
