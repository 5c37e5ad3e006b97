"""A service's gate checks, its identity, verify jobs and the snapshot policy (issue 11).

`services.<name>.checks` lists the requests the gate makes (default: one GET of `healthPath`,
which stays required on HTTP services: it is also the platform's own probe path, the ALB
target group's and the container probes'). `services.<name>.identity` says where the version
is read (a JSON field, a header) or `none` (the platform alone: the running tasks, containers
or revision run the pinned digest). `services.<name>.verify` and `migration.verify` are
one-shot commands run after the gate or the migration. `releasegate:snapshot.when` says when
the pre-migration snapshot is taken.

Every invalid key gets exactly one message; checks that depend on another key's value are
skipped when that key was already reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from components.gates.check_inputs import CHECK_PATH
from components.spec import (
    ASSERTION_OPS,
    CHECK_METHODS,
    IDENTITY_SOURCES,
    SNAPSHOT_WHEN,
    BodyAssertion,
    CheckSpec,
    IdentitySpec,
    VerifySpec,
)
from infra.config_reader import Problems, Reader, nearest, record_schema
from infra.settings import KEY_SNAPSHOT, NAMESPACE

FIELD = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
HEADER = re.compile(r"^[A-Za-z0-9-]+$")
CHECK_KEYS = {"path", "method", "body", "expectedStatus", "assertions", "carriesVersion"}
OP_SCHEMAS: dict[str, dict[str, Any]] = {
    "equals": {"description": "the JSON value the body holds at path"},
    "notEquals": {"description": "a JSON value the body must not hold at path"},
    "oneOf": {"type": "array", "minItems": 1, "description": "the JSON values allowed at path"},
    "lessThan": {"type": "number", "description": "the value at path is a smaller number"},
    "greaterThan": {"type": "number", "description": "the value at path is a larger number"},
}
VERIFY_TIMEOUT_DEFAULT = 600


def _count(problems: Problems) -> int:
    return len(problems.items)


def _typo(raw: Mapping[str, Any], known: Iterable[str]) -> bool:
    """`raw` has an unknown name (reported by its Reader with the nearest known one): a
    required name then missing is most likely that typo, so it is not reported twice."""
    return bool(set(raw) - set(known))


def load_checks(
    problems: Problems,
    key: str,
    raw: Any,
    *,
    health_path: str | None,
    expected_status: int,
    worker: bool,
) -> tuple[CheckSpec, ...] | None:
    """The service's checks; None when they were reported invalid (the caller then skips the
    checks that depend on them). Absent: on an HTTP service one GET of `health_path` that
    carries the version; on a worker none (workers are gated on platform state)."""
    record_schema(key, "checks", {"type": "array", "description": "the gate's requests"})
    if raw is None:
        if worker:
            return ()
        if health_path is None:
            return None  # healthPath was reported (missing or invalid)
        return (CheckSpec(health_path, "GET", None, expected_status, (), True),)
    if worker:
        problems.raw(
            f"{NAMESPACE}:{key}.checks: set on a worker (no port); allowed: give the service a "
            "port, or remove checks (workers are gated on platform state)"
        )
        return None
    if not isinstance(raw, list) or not raw:
        problems.add(f"{key}.checks", raw, "a non-empty list of checks ({path, method, ...})")
        return None
    before = _count(problems)
    checks = [_load_check(problems, f"{key}.checks[{i}]", item, expected_status)
              for i, item in enumerate(raw)]  # fmt: skip
    if _count(problems) != before:
        return None
    return tuple(c for c in checks if c is not None)


def _load_check(problems: Problems, key: str, raw: Any, expected_status: int) -> CheckSpec | None:
    if not isinstance(raw, dict):
        problems.add(key, raw, "an object with path, method, body, expectedStatus, assertions")
        return None
    r = Reader(problems, key, raw, CHECK_KEYS)
    path = r.string(
        "path", None, CHECK_PATH, "a path starting with one '/', no '#' or spaces, e.g. /readyz"
    )
    if raw.get("path") is None and not _typo(raw, CHECK_KEYS):
        problems.raw(f"{NAMESPACE}:{key}.path: missing; allowed: a path starting with '/'")
    before = _count(problems)
    method = r.string(
        "method", "GET", re.compile(f"^({'|'.join(CHECK_METHODS)})$"), ", ".join(CHECK_METHODS)
    )
    method_ok = _count(problems) == before
    record_schema(key, "body", {"type": "object", "description": "a JSON object (POST only)"})
    body = raw.get("body")
    if body is not None and not isinstance(body, dict):
        problems.add(f"{key}.body", body, "a JSON object (sent with method POST)")
    elif body is not None and method_ok and method != "POST":
        problems.add(f"{key}.body", body, f"only with method POST (this check is {method})")
    status = r.integer("expectedStatus", expected_status, 100, 599)
    carries = r.boolean("carriesVersion", False)
    assertions = _load_assertions(problems, key, raw.get("assertions"))
    if assertions and method_ok and method == "HEAD":
        problems.raw(
            f"{NAMESPACE}:{key}.assertions: a HEAD answer has no body to assert on; "
            "allowed: method GET or POST, or no assertions"
        )
    if path is None or not method_ok or method is None:
        return None
    return CheckSpec(
        path=path,
        method=method,
        body=body if method == "POST" and isinstance(body, dict) else None,
        expected_status=status,
        assertions=assertions,
        carries_version=carries,
    )


def _load_assertions(problems: Problems, key: str, raw: Any) -> tuple[BodyAssertion, ...]:
    record_schema(key, "assertions", {"type": "array", "description": "JSON body assertions"})
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(f"{key}.assertions", raw, "a list of {path, equals|notEquals|...: value}")
        return ()
    found: list[BodyAssertion] = []
    for i, item in enumerate(raw):
        at = f"{key}.assertions[{i}]"
        if not isinstance(item, dict):
            problems.add(at, item, "an object such as {path: status, equals: ok}")
            continue
        known = {"path", *ASSERTION_OPS}
        r = Reader(problems, at, item, known)
        if _typo(item, known):
            continue
        for op in ASSERTION_OPS:
            record_schema(at, op, OP_SCHEMAS[op])
        path = r.string("path", None, FIELD, "a dotted JSON path such as summary.health")
        if item.get("path") is None:
            problems.raw(f"{NAMESPACE}:{at}.path: missing; allowed: a dotted JSON path")
        ops = [op for op in ASSERTION_OPS if op in item]
        if len(ops) != 1:
            problems.raw(
                f"{NAMESPACE}:{at}: {'no' if not ops else ', '.join(ops)} comparison; allowed: "
                f"exactly one of {', '.join(ASSERTION_OPS)}"
            )
            continue
        op = ops[0]
        value = item[op]
        if op in ("lessThan", "greaterThan") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            problems.add(f"{at}.{op}", value, "a number")
            continue
        if op == "oneOf" and (not isinstance(value, list) or not value):
            problems.add(f"{at}.{op}", value, "a non-empty list of values")
            continue
        if path is not None:
            found.append(BodyAssertion(path=path, op=op, value=value))
    return tuple(found)


def load_identity(
    problems: Problems,
    key: str,
    raw: Any,
    *,
    checks: tuple[CheckSpec, ...] | None,
    worker: bool,
    gate_field: str | None,
    gate_header: str | None,
) -> IdentitySpec:
    """Where the gate reads the version. Absent: none on a worker, else the healthGate's
    versionHeader or versionField. A field or header needs a check that carries it."""
    record_schema(key, "identity", {"type": "object"})
    if raw is None:
        if worker:
            return IdentitySpec("none", None)
        if gate_header is not None:
            return _needs_carrier(problems, key, IdentitySpec("header", gate_header), checks, False)
        identity = IdentitySpec("field", gate_field) if gate_field else IdentitySpec("none", None)
        return _needs_carrier(problems, key, identity, checks, False)
    at = f"{key}.identity"
    if not isinstance(raw, dict):
        problems.add(at, raw, "an object {version: field|header|none, name: ...}")
        return IdentitySpec("none", None)
    r = Reader(problems, at, raw, {"version", "name"})
    if _typo(raw, {"version", "name"}):
        return IdentitySpec("none", None)
    source = r.string(
        "version", None, re.compile(f"^({'|'.join(IDENTITY_SOURCES)})$"), "field, header or none"
    )
    if raw.get("version") is None:
        problems.raw(f"{NAMESPACE}:{at}.version: missing; allowed: field, header or none")
    pattern, wording = (
        (HEADER, "an HTTP header name such as X-Release-Version")
        if source == "header"
        else (FIELD, "a dotted JSON path such as version or build.version")
    )
    name = r.string("name", None, pattern, wording)
    if source is None:
        return IdentitySpec("none", None)
    if source == "none":
        if "name" in raw:
            problems.add(f"{at}.name", raw["name"], "no name with version: none")
        return IdentitySpec("none", None)
    if worker:
        problems.add(f"{at}.version", source, "none on a worker (no port, no checks): the "
                     "platform's own state of the pinned digest")  # fmt: skip
        return IdentitySpec("none", None)
    if name is None:
        if raw.get("name") is None:
            problems.raw(f"{NAMESPACE}:{at}.name: missing; allowed: {wording}")
        return IdentitySpec("none", None)
    return _needs_carrier(problems, key, IdentitySpec(source, name), checks, True)


def _needs_carrier(
    problems: Problems,
    key: str,
    identity: IdentitySpec,
    checks: tuple[CheckSpec, ...] | None,
    explicit: bool,
) -> IdentitySpec:
    """A field or header identity is read from the answers of the checks that carry the
    version: at least one must, and a HEAD answer has no body to read a field from."""
    if checks is None or identity.source == "none":
        return identity
    carriers = [c for c in checks if c.carries_version]
    where = f"{key}.identity" if explicit else f"{key}.checks"
    what = f"{identity.source} {identity.name!r}" + (
        "" if explicit else " (healthGate's versionField/versionHeader)"
    )
    if not carriers:
        problems.raw(
            f"{NAMESPACE}:{where}: the version is read from {what}, but no check has "
            "carriesVersion: true; allowed: set it on the check that reports the version, or "
            f"{key}.identity: {{version: none}} (the platform alone vouches for the digest)"
        )
    elif identity.source == "field":
        for i, check in enumerate(checks):
            if check.carries_version and check.method == "HEAD":
                problems.raw(
                    f"{NAMESPACE}:{key}.checks[{i}].carriesVersion: a HEAD answer has no body "
                    f"to read {what} from; allowed: method GET or POST, or a header identity"
                )
    return identity


def load_verify(problems: Problems, key: str, raw: Any, images: Iterable[str]) -> VerifySpec | None:
    """`<key>.verify`: {command (required), image (a pinned image's name), timeoutSeconds}."""
    record_schema(key, "verify", {"type": "object"})
    if raw is None:
        return None
    at = f"{key}.verify"
    if not isinstance(raw, dict):
        problems.add(at, raw, "an object {command: [...], image, timeoutSeconds}")
        return None
    known = {"command", "image", "timeoutSeconds"}
    r = Reader(problems, at, raw, known)
    command = r.string_list("command", None, "a non-empty list of strings (the command)")
    if raw.get("command") in (None, []) and not _typo(raw, known):
        problems.raw(f"{NAMESPACE}:{at}.command: missing; allowed: a non-empty list of strings")
    names = sorted(images)
    image = r.string("image", None, None, f"the name of a pinned image: {', '.join(names)}")
    if image is not None and image not in names:
        problems.add(f"{at}.image", image, f"the name of a pinned image: {', '.join(names)}",
                     nearest(image, names))  # fmt: skip
        image = None
    timeout = r.integer("timeoutSeconds", VERIFY_TIMEOUT_DEFAULT, 10, 86400)
    if not command:
        return None
    return VerifySpec(command=command, image=image, timeout_seconds=timeout)


def load_snapshot_when(problems: Problems, raw: Mapping[str, Any]) -> str:
    """`releasegate:snapshot.when`: migrations (when the migrations pin changes; the default,
    today's behaviour) or always (when any pin changes, before anything rolls out)."""
    r = Reader(problems, KEY_SNAPSHOT, raw, {"when"})
    allowed = " or ".join(SNAPSHOT_WHEN)
    when = r.string("when", SNAPSHOT_WHEN[0], re.compile(f"^({'|'.join(SNAPSHOT_WHEN)})$"), allowed)
    return when or SNAPSHOT_WHEN[0]
