"""What one HTTP check of a health gate asks, and how its JSON body assertions are judged.

A service's runbook checks more than a status code: `/health` and `/ready` both, `status ==
"ok"`, `summary.health == "ok"`, `rolesBlocked == 0`, a dry-run POST. A gate probe runs every
check of the service in turn and is healthy only when each one passes; this module holds the
checks' typed form and the pure parts of judging them (no I/O), so `http_probe` only does the
requests and `health_gate` only validates inputs against the same vocabulary.

Assertions read a dotted path into the JSON body (`summary.health`, `items.0.status`: a
whole-number part indexes a list). A missing path, a body that is not JSON, or a value of the
wrong type fails the assertion with a reason naming the path, the expected and the served value
(the caller redacts it). Comparisons are strict about JSON types: `true` is not `1`, `"0"` is
not `0`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

METHODS: tuple[str, ...] = ("GET", "HEAD", "POST")
OPS: tuple[str, ...] = ("equals", "notEquals", "oneOf", "lessThan", "greaterThan")
IDENTITY_SOURCES: tuple[str, ...] = ("field", "header", "none")

MISSING = object()


@dataclass(frozen=True)
class BodyCheck:
    """One assertion on the JSON body: the value at `path` compared by `op` with `value`."""

    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class HttpCheck:
    """One request of a probe. `path` is resolved against the origin of the gate's URL."""

    path: str
    method: str = "GET"
    body: Mapping[str, Any] | None = None
    """Sent as JSON (`Content-Type: application/json`), POST only: a dry run."""
    expected_status: int = 200
    assertions: tuple[BodyCheck, ...] = ()
    carries_version: bool = True
    """The answer must serve one of the pinned versions (through the gate's identity)."""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def path_and_query(url: str) -> str:
    """The part of `url` a check's path stands for: `/health/ready?full=1`."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def check_url(base_url: str, path: str) -> str:
    """`path` (starting with `/`) on the origin (scheme, credentials, host, port) of `base_url`."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{path}"


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted path, or `MISSING`: dict keys, and whole numbers index lists."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _shown(value: Any) -> str:
    """A value as JSON text, so a reason reads `expected "ok", got "degraded"`."""
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_json(left: Any, right: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), but a boolean only equals a boolean."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same_json, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    return type(left) is type(right) and bool(left == right)


def assertion_failure(assertion: BodyCheck, document: Any) -> str | None:
    """Why `document` (the parsed JSON body) fails the assertion, or None when it passes."""
    got = lookup(document, assertion.path)
    wanted = assertion.value
    if got is MISSING:
        return f"{assertion.path}: missing from the JSON body (expected {_describe(assertion)})"
    if assertion.op == "equals":
        ok = same_json(got, wanted)
    elif assertion.op == "notEquals":
        ok = not same_json(got, wanted)
    elif assertion.op == "oneOf":
        ok = any(same_json(got, option) for option in wanted)
    else:
        if not _is_number(got) or (isinstance(got, float) and math.isnan(got)):
            return f"{assertion.path}: expected a number {_describe(assertion)}, got {_shown(got)}"
        ok = got < wanted if assertion.op == "lessThan" else got > wanted
    return None if ok else f"{assertion.path}: expected {_describe(assertion)}, got {_shown(got)}"


def _describe(assertion: BodyCheck) -> str:
    value = _shown(assertion.value)
    return {
        "equals": value,
        "notEquals": f"anything but {value}",
        "oneOf": f"one of {value}",
        "lessThan": f"less than {value}",
        "greaterThan": f"greater than {value}",
    }[assertion.op]


def describe(assertion: BodyCheck) -> str:
    """`summary.health equals "ok"`, for the gate's failure message."""
    return f"{assertion.path} {assertion.op} {_shown(assertion.value)}"


def body_failure(check: HttpCheck, body: bytes) -> str | None:
    """Every failed assertion of `check` on a body ("; "-joined), or None when all pass."""
    if not check.assertions:
        return None
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        first = check.assertions[0]
        return f"{first.path}: the body is not JSON (expected {_describe(first)})"
    reasons = [r for a in check.assertions if (r := assertion_failure(a, document)) is not None]
    return "; ".join(reasons) or None
