"""The health gate: a dynamic resource that exists only if the pinned build is really serving.

"Deploy said OK, old version running" is the commonest real failure: an ECS circuit breaker
rolls back, a Container Apps revision fails while the old one keeps serving, an ALB fails open
to unhealthy targets, and the IaC tool reports success. So the gate checks identity (the
served version must be the pinned tag or digest, and the platform must report the rollout
healthy), not only a 2xx, and everything after it in the release graph depends on it.

`image` is an input so that re-pinning a service changes the gate, which re-runs it on
`update`. Nothing forces a replacement: the gate owns nothing outside Pulumi state, so delete
is a no-op. Create and update never run during preview, and Pulumi's custom timeouts do not
reach dynamic providers, so the gate enforces its own deadline (see `http_probe`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, Resource, UpdateResult

from components.gates import backends
from components.gates.check_inputs import (
    checks_from_inputs,
    checks_problems,
    identity_evidence,
    identity_from_inputs,
    identity_problems,
)
from components.gates.http_probe import GateResult, GateSettings, run_health_gate
from components.gates.notify import failure_notice, notify_problem
from components.gates.provider_base import GateProvider, is_unknown, is_whole
from components.gates.redact import known_secret_values, known_secrets_problem, redact
from components.imageref import PINNED_IMAGE_PATTERN

DEFAULTS: dict[str, Any] = {
    "url": None,
    "expected_status": 200,
    "version_field": None,
    "version_header": None,
    "request_timeout_seconds": 5,
    "interval_seconds": 3,
    "success_threshold": 3,
    "failure_threshold": 5,
    "failure_limit": 5,
    "startup_seconds": 300,
    "deadline_seconds": 600,
    "platform": None,
    "rollout": None,
    "connect_to": None,
    "checks": None,
    "identity": None,
}
"""In line with Kamal (timeout 5 s), Kubernetes startup probes (300 s budget), ALB and Argo
(consecutive successes, a failure limit) and ALB health time plus draining (~10 min)."""

INPUTS: tuple[str, ...] = (
    "service",
    "image",
    "expected_versions",
    "url",
    "expected_status",
    "version_field",
    "version_header",
    "request_timeout_seconds",
    "interval_seconds",
    "success_threshold",
    "failure_threshold",
    "failure_limit",
    "startup_seconds",
    "deadline_seconds",
    "platform",
    "rollout",
    "connect_to",
    "checks",
    "identity",
)

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_FIELD_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_CONNECT_TO = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$"
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value(inputs: Mapping[str, Any], key: str) -> Any:
    value = inputs.get(key)
    return DEFAULTS.get(key) if value is None else value


def _url_problem(url: object, secrets: Sequence[str] = ()) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "must be an http(s) URL such as https://api.example.com/health/ready"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as exc:
        return redact(f"is not a valid URL ({exc})", secrets)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return redact(f"{url!r} must be an http(s) URL with a host", secrets)
    return None


def _number_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key in ("request_timeout_seconds", "interval_seconds", "deadline_seconds"):
        value = _value(inputs, key)
        if not is_unknown(value, deep=True) and not (_is_number(value) and value > 0):
            problems.append((key, f"must be a number of seconds greater than 0, got {value!r}"))
    startup = _value(inputs, "startup_seconds")
    if not is_unknown(startup, deep=True) and not (_is_number(startup) and startup >= 0):
        problems.append(("startup_seconds", f"must be a number of seconds >= 0, got {startup!r}"))
    for key in ("success_threshold", "failure_threshold"):
        value = _value(inputs, key)
        if not is_unknown(value, deep=True) and not (is_whole(value) and value >= 1):
            problems.append((key, f"must be a whole number >= 1, got {value!r}"))
    limit = _value(inputs, "failure_limit")
    if not is_unknown(limit, deep=True) and not (is_whole(limit) and limit >= 0):
        problems.append(("failure_limit", f"must be a whole number >= 0, got {limit!r}"))
    status = _value(inputs, "expected_status")
    if not is_unknown(status, deep=True) and not (is_whole(status) and 100 <= status <= 599):
        problems.append(("expected_status", f"must be an HTTP status 100-599, got {status!r}"))
    if problems:
        return problems
    interval, deadline = _value(inputs, "interval_seconds"), _value(inputs, "deadline_seconds")
    successes = _value(inputs, "success_threshold")
    if not any(is_unknown(v, deep=True) for v in (interval, deadline, successes)):
        needed = (int(successes) - 1) * float(interval)
        if deadline <= needed:
            problems.append((
                "deadline_seconds",
                f"{deadline:g} s cannot fit {int(successes)} probes {float(interval):g} s apart "
                f"(success_threshold x interval_seconds); it must be more than {needed:g} s",
            ))
    startup = _value(inputs, "startup_seconds")
    if not any(is_unknown(v, deep=True) for v in (startup, deadline)) and startup >= deadline:
        # Otherwise a service that never turns healthy is only ever "not yet" and the gate
        # ends at the deadline as inconclusive, never as a failure of the start-up.
        problems.append((
            "startup_seconds",
            f"startup_seconds ({startup:g} s) must be less than deadline_seconds "
            f"({deadline:g} s), so a start-up that never succeeds fails before the deadline",
        ))
    return problems


def _connect_to_problem(value: object) -> str | None:
    match = _CONNECT_TO.match(value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match.group(1) or 443) <= 65535:
        return (f"must be host or host:port to connect to (such as an ALB's DNS name), "
                f"got {value!r}")
    return None


def _http_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    url = inputs.get("url")
    field, header = inputs.get("version_field"), inputs.get("version_header")
    connect_to = inputs.get("connect_to")
    if url is None:
        return [
            (key, "only applies to an HTTP check; set url too, or leave it unset")
            for key, value in (("version_field", field), ("version_header", header),
                               ("connect_to", connect_to))
            if value is not None
        ]
    problems: list[tuple[str, str]] = []
    known = known_secret_values(inputs.get("known_secrets"))
    if not is_unknown(url, deep=True) and (problem := _url_problem(url, known)):
        problems.append(("url", problem))
    if connect_to is not None and not is_unknown(connect_to, deep=True) and (
        problem := _connect_to_problem(connect_to)
    ):
        problems.append(("connect_to", problem))
    if inputs.get("identity") is not None:
        return problems  # identity replaces the version keys (check_inputs.identity_problems)
    if field is not None and header is not None:
        problems.append((
            "version_field",
            "set exactly one of version_field (JSON body) or version_header, not both",
        ))
    elif field is None and header is None:
        problems.append((
            "version_field",
            "an HTTP check must verify the served build: set version_field (a dotted JSON "
            "path such as build.version) or version_header (such as X-Release-Version)",
        ))
    if field is not None and not is_unknown(field, deep=True) and not (
        isinstance(field, str) and _FIELD_PATH.match(field)
    ):
        problems.append(("version_field", f"must be a dotted JSON path, got {field!r}"))
    if header is not None and not is_unknown(header, deep=True) and not (
        isinstance(header, str) and _HEADER_NAME.match(header)
    ):
        problems.append(("version_header", f"must be an HTTP header name, got {header!r}"))
    return problems


def _platform_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    platform = inputs.get("platform")
    if platform is None or is_unknown(platform, deep=True):
        if platform is None and inputs.get("url") is None:
            return [("url", "the gate needs something to check: set url, platform, or both")]
        return []
    if not isinstance(platform, Mapping):
        return [("platform", "must be a mapping such as {kind: docker, container: ...}")]
    kind = platform.get("kind")
    if kind not in backends.BACKENDS["platform"]:
        known = ", ".join(sorted(backends.BACKENDS["platform"]))
        return [("platform", f"kind {kind!r} has no platform probe; known kinds: {known}")]
    return []


def input_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem with the inputs, as (input name, reason); unknown values pass."""
    problems: list[tuple[str, str]] = []
    service = inputs.get("service")
    if not is_unknown(service, deep=True) and not (isinstance(service, str) and service.strip()):
        problems.append(("service", "must be the service's name"))
    image = inputs.get("image")
    pinned = isinstance(image, str) and PINNED_IMAGE_PATTERN.match(image)
    if not is_unknown(image) and not pinned:
        problems.append((
            "image",
            f"must be the pinned image registry/repository@sha256:<64 hex>, got {image!r}",
        ))
    versions = inputs.get("expected_versions")
    if not isinstance(versions, Sequence) or isinstance(versions, str) or not versions:
        if not is_unknown(versions, deep=True):
            problems.append((
                "expected_versions",
                "must list the pinned tag and/or digest the service should report",
            ))
    elif not all(is_unknown(v, deep=True) or (isinstance(v, str) and v.strip()) for v in versions):
        problems.append(("expected_versions", f"must be non-empty strings, got {versions!r}"))
    problems += _http_problems(inputs)
    problems += identity_problems(inputs)
    problems += checks_problems(inputs)
    problems += _number_problems(inputs)
    problems += _platform_problems(inputs)
    if problem := known_secrets_problem(inputs.get("known_secrets")):
        problems.append(("known_secrets", problem))
    if problem := notify_problem(inputs.get("notify")):
        problems.append(("notify", problem))
    # One reason per input (the first found): a second, contradictory line for the same key
    # only confuses. Reasons quote values (a check's path may carry a token): redacted.
    known = known_secret_values(inputs.get("known_secrets"))
    first: dict[str, str] = {}
    for key, reason in problems:
        first.setdefault(key, redact(reason, known))
    return list(first.items())


def settings_from_inputs(inputs: Mapping[str, Any]) -> GateSettings:
    """The validated, typed form of the inputs; raises ValueError naming each bad input."""
    problems = input_problems(inputs)
    if problems:
        listed = "; ".join(f"{key}: {reason}" for key, reason in problems)
        raise ValueError(f"invalid health gate inputs: {listed}")
    version_field, version_header, http_identity = identity_from_inputs(inputs)
    return GateSettings(
        service=str(inputs["service"]),
        expected_versions=tuple(str(v).strip() for v in inputs["expected_versions"]),
        url=inputs.get("url"),
        expected_status=int(_value(inputs, "expected_status")),
        version_field=version_field,
        version_header=version_header,
        request_timeout_seconds=float(_value(inputs, "request_timeout_seconds")),
        interval_seconds=float(_value(inputs, "interval_seconds")),
        success_threshold=int(_value(inputs, "success_threshold")),
        failure_threshold=int(_value(inputs, "failure_threshold")),
        failure_limit=int(_value(inputs, "failure_limit")),
        startup_seconds=float(_value(inputs, "startup_seconds")),
        deadline_seconds=float(_value(inputs, "deadline_seconds")),
        connect_to=inputs.get("connect_to") or None,
        known_secrets=known_secret_values(inputs.get("known_secrets")),
        checks=checks_from_inputs(inputs, int(_value(inputs, "expected_status"))),
        http_identity=http_identity,
    )


def run_gate_for(inputs: Mapping[str, Any]) -> GateResult:
    """Run the gate the inputs describe; raises HealthGateError with what it saw."""
    settings = settings_from_inputs(inputs)
    platform = inputs.get("platform")
    if platform is None:
        return run_health_gate(settings)
    # Imported here, in the provider process, so only the deployed target's SDK is loaded.
    probe = backends.platform_probe(str(platform["kind"]))
    settings_for_probe = backends.parse_settings("platform", platform)
    return run_health_gate(settings, lambda: probe.observe(settings_for_probe))


def _outputs(inputs: Mapping[str, Any], result: GateResult) -> dict[str, Any]:
    """The inputs and the verdict; `known_secrets` and `notify` stay inputs only (never an
    output)."""
    kept = {key: value for key, value in inputs.items() if key not in ("known_secrets", "notify")}
    return {**kept, "evidence": {**result.evidence(), "identity": identity_evidence(inputs)}}


class HealthGateProvider(GateProvider):
    """Runs the gate on create and on every update; a change to any of `INPUTS` is an update.
    `known_secrets` (for redaction) is not one of them: a secret rotation re-runs no gate; nor
    is `notify` (where a failure is announced, before the gate raises)."""

    INPUTS = INPUTS
    REPLACE_ON = ()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(key, reason) for key, reason in input_problems(news)]
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with failure_notice(props, f"health gate {props.get('service')}"):
            result = run_gate_for(props)
        gate_id = f"{props['service']}-{uuid.uuid4().hex[:12]}"
        return CreateResult(gate_id, _outputs(props, result))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        with failure_notice(_news, f"health gate {_news.get('service')}"):
            result = run_gate_for(_news)
        return UpdateResult(_outputs(_news, result))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: the gate is a verdict recorded in state, not infrastructure."""


@dataclass(frozen=True, kw_only=True)
class HealthGateArgs:
    service: pulumi.Input[str]
    image: pulumi.Input[str]
    """The pinned `registry/repository@sha256:...`: a re-pin changes it and re-runs the gate."""
    expected_versions: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The pinned tag and/or digest; the served version must equal one of them."""
    url: pulumi.Input[str] | None = None
    """None gates on the platform only (workers without ingress)."""
    expected_status: pulumi.Input[int] = 200
    version_field: pulumi.Input[str] | None = None
    """Dotted JSON path in the response body, e.g. `build.version`."""
    version_header: pulumi.Input[str] | None = None
    """Response header carrying the version, e.g. `X-Release-Version`."""
    request_timeout_seconds: pulumi.Input[float] = 5
    interval_seconds: pulumi.Input[float] = 3
    success_threshold: pulumi.Input[int] = 3
    failure_threshold: pulumi.Input[int] = 5
    failure_limit: pulumi.Input[int] = 5
    """Failures allowed in all after start-up (Argo Rollouts' failureLimit); one more fails."""
    startup_seconds: pulumi.Input[float] = 300
    deadline_seconds: pulumi.Input[float] = 600
    platform: pulumi.Input[Mapping[str, Any]] | None = None
    """The plain form (`to_dict`) of the target's platform settings, `{"kind": "docker", ...}`
    (`components.gates.backends.BACKENDS["platform"]`): the platform's rollout state must be
    healthy too."""
    rollout: pulumi.Input[str] | None = None
    """The identity of the rollout being gated (container id, task definition ARN, revision).
    A failed gate keeps its last good inputs in state, so after a failed release a rollback
    re-pins an image the gate already passed; this input still changes, so the gate runs
    again and the rollback is verified like any release."""
    connect_to: pulumi.Input[str] | None = None
    """`host[:port]` to connect to instead of the URL's host (like `curl --connect-to`); the
    URL's host stays the Host header, the TLS SNI name and the name the certificate must be
    valid for. The AWS target sets the ALB's DNS name: no DNS record for the domain needed."""
    checks: pulumi.Input[Sequence[pulumi.Input[Mapping[str, Any]]]] | None = None
    """The requests of one probe, in turn, each `{path, method (GET|HEAD|POST), body (JSON,
    POST only), expected_status, assertions: [{path, op, value}], carries_version}` with the
    path on the origin of `url`; a probe is healthy only when every check passes. None: one
    GET of `url` expecting `expected_status` (the gate before checks existed)."""
    identity: pulumi.Input[Mapping[str, Any]] | None = None
    """`{source: field|header|none, name}`: where answers carry the served version. `none`
    leaves identity to the platform check (the gate refuses it without `platform`). None:
    `version_field` / `version_header`."""
    known_secrets: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    """Every secret value the stack knows, masked in observations and error messages. Pass a
    Pulumi secret; it is not a diffed input, so a secret rotation re-runs no gate."""
    notify: pulumi.Input[Mapping[str, Any]] | None = None
    """Where a failure is announced (`{targets, stack, release}`, components/gates/notify.py),
    before the gate raises. Pass a Pulumi secret; never diffed, never an output."""


class HealthGate(Resource, module="gates", name="HealthGate"):
    """Exists only once the pinned build served healthy answers; depend on it to go on."""

    evidence: pulumi.Output[dict[str, Any]]
    """A secret output: its observations carry what the service and the platform said (error
    texts included). Read the summary fields the ledger keeps through `Output.unsecret`."""

    def __init__(
        self, name: str, args: HealthGateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {key: getattr(args, key) for key in INPUTS}
        props["known_secrets"] = (
            None if args.known_secrets is None else pulumi.Output.secret(args.known_secrets)
        )
        props["notify"] = None if args.notify is None else pulumi.Output.secret(args.notify)
        props["evidence"] = None
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["evidence"])
        )
        super().__init__(HealthGateProvider(), name, props, opts)
