"""Release notifications, sent by the dynamic providers themselves.

A failed release stops `pulumi up` at the step that failed, so nothing after it runs: the
step's own provider sends the failure, right before it raises (`failure_notice`); the release
attempt sends the start, the ledger the success or the rollback. Delivery is best effort by
design: a receiver that is down, slow or refusing gets one retry at most, within a bound of
about five seconds for all targets together, and then becomes a warning. A notification never
fails a release, never delays it past that bound and never replaces the step's own error.

No secret leaves in a message: every text is redacted with the stack's known secrets and the
targets' own secrets (webhook URLs, header values, the GitHub token). A warning names the kind
of target only (`slack`, `teams`, `webhook`, `github`), never its URL: a webhook URL is itself
the credential.

The `notify` input every provider takes (a Pulumi secret, never diffed, never an output):
`{"targets": {...}, "stack": str}` with targets
`slack: {webhook_url}`, `teams: {webhook_url}`, `webhook: {url, headers}`,
`github: {repository, token, environment, ref, api_url, log_url}` (each optional).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx

from components.gates.notify_payloads import (
    EVENT_KINDS,
    Event,
    EventKind,
    github_description,
    github_state,
    slack_payload,
    teams_payload,
    webhook_payload,
)
from components.gates.provider_base import is_unknown, utc_now
from components.gates.redact import known_secret_values, redact

TARGET_SECONDS = 5.0
"""The whole budget for one target (its retry and, for GitHub, its several requests); targets
are sent in parallel, so this is also about the bound of one `notify` call."""
CONNECT_SECONDS = 3.0
KINDS = ("slack", "teams", "webhook", "github")
GITHUB_API = "https://api.github.com"
GITHUB_HEADERS = {
    # GitHub REST API: "Setting to application/vnd.github+json is recommended", and the API
    # version header (docs.github.com, REST API, Deployments / About API versions).
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class DeliveryError(Exception):
    """One target could not be reached or refused; the message names no URL and no secret."""


@dataclass(frozen=True)
class _Target:
    kind: str
    settings: Mapping[str, Any]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def target_secrets(targets: Mapping[str, Any]) -> list[str]:
    """Every secret a target holds (URLs, header values, the token): masked like the stack's
    known secrets wherever they would appear."""
    found: list[str] = []
    for kind in KINDS:
        settings = targets.get(kind)
        if not isinstance(settings, Mapping):
            continue
        for key in ("webhook_url", "url", "token"):
            if value := _text(settings.get(key)):
                found.append(value)
        headers = settings.get("headers")
        if isinstance(headers, Mapping):
            found += [v for v in headers.values() if isinstance(v, str) and v]
    return found


def _targets(targets: object) -> tuple[list[_Target], list[str]]:
    """The usable targets and a warning for each unusable one (by kind only)."""
    if not isinstance(targets, Mapping):
        return [], []
    usable: list[_Target] = []
    warnings: list[str] = []
    required = {"slack": ("webhook_url",), "teams": ("webhook_url",), "webhook": ("url",),
                "github": ("repository", "token", "environment", "ref")}  # fmt: skip
    for kind in KINDS:
        settings = targets.get(kind)
        if settings is None:
            continue
        if not isinstance(settings, Mapping) or is_unknown(settings, deep=True):
            warnings.append(f"{kind} notification not sent: its settings are not available")
            continue
        missing = [key for key in required[kind] if not _text(settings.get(key))]
        if missing:
            warnings.append(
                f"{kind} notification not sent: no {', '.join(missing)} "
                "(see docs/notifications.md)"
            )
            continue
        usable.append(_Target(kind, settings))
    return usable, warnings


def _redacted(event: Event, secrets: Sequence[str]) -> Event:
    return replace(
        event,
        step=None if event.step is None else redact(event.step, secrets),
        summary=redact(event.summary, secrets),
        details={k: redact(str(v), secrets) for k, v in event.details.items()},
    )


class _Budget:
    """The time left for one target; every request gets at most what is left."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def timeout(self) -> httpx.Timeout:
        left = max(self.left(), 0.05)
        return httpx.Timeout(left, connect=min(CONNECT_SECONDS, left))


def _request(
    client: httpx.Client,
    budget: _Budget,
    method: str,
    url: str,
    *,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """One request, retried once after a connection failure, a timeout or a 429/5xx answer
    when at least a second of the budget is left; raises DeliveryError (no URL in it)."""
    for attempt in (1, 2):
        try:
            response = client.request(
                method, url, json=json, params=params, headers=headers, timeout=budget.timeout()
            )
        except httpx.TimeoutException:
            problem = "did not answer in time"
        except httpx.TransportError:
            problem = "could not be reached"
        else:
            if response.status_code < 400:
                return response
            problem = f"answered HTTP {response.status_code}"
            if response.status_code not in _RETRY_STATUSES:
                break
        if attempt == 1 and budget.left() < 1.0:
            break
    raise DeliveryError(problem)


def _post_json(target: _Target, url: str, payload: Mapping[str, Any], budget: _Budget) -> None:
    headers = {"Content-Type": "application/json"}
    extra = target.settings.get("headers")
    if isinstance(extra, Mapping):
        headers.update({str(k): str(v) for k, v in extra.items()})
    with httpx.Client(follow_redirects=False) as client:
        _request(client, budget, "POST", url, json=payload, headers=headers)


def _github(target: _Target, event: Event, budget: _Budget) -> None:
    """GitHub deployment statuses: a deployment of the ref to the environment (created on
    start, or found again: the newest one releasegate created for the ref and environment,
    of this release when the event knows its id), then a status for the event.

    REST API (docs.github.com, Deployments): `POST /repos/{owner}/{repo}/deployments` takes
    `ref`, `environment`, `auto_merge` (default true: merges the default branch into the ref;
    off here) and `required_contexts` ("To bypass checking entirely, pass an empty array": the
    release already runs), plus a free `payload`; `GET .../deployments` filters by `ref` and
    `environment`, newest first; `POST .../deployments/{id}/statuses` takes `state`,
    `description` (at most 140 characters), `environment` and `log_url`."""
    settings = target.settings
    api = (_text(settings.get("api_url")) or GITHUB_API).rstrip("/")
    base = f"{api}/repos/{settings['repository']}/deployments"
    environment = str(settings["environment"])
    headers = {**GITHUB_HEADERS, "Authorization": f"Bearer {settings['token']}"}
    with httpx.Client(follow_redirects=False, headers=headers) as client:
        deployment_id = None
        if event.kind != "start":
            query = {"ref": str(settings["ref"]), "environment": environment}
            found = _request(client, budget, "GET", base, params=query)
            deployment_id = _deployment_of(found, event.release)
        if deployment_id is None:
            created = _request(client, budget, "POST", base, json={
                "ref": str(settings["ref"]),
                "environment": environment,
                "task": "deploy",
                "auto_merge": False,
                "required_contexts": [],
                "description": f"releasegate release of {event.stack}",
                "payload": {"releasegate_release": event.release, "stack": event.stack},
            })  # fmt: skip
            deployment_id = _id_of(created)
        status: dict[str, Any] = {
            "state": github_state(event.kind),
            "description": github_description(event),
            "environment": environment,
        }
        if log_url := _text(settings.get("log_url")):
            status["log_url"] = log_url
        _request(client, budget, "POST", f"{base}/{deployment_id}/statuses", json=status)


def _id_of(response: httpx.Response) -> int:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 201 or not isinstance(body, Mapping) or "id" not in body:
        # 202 is GitHub's "auto-merge" answer, which auto_merge=false never asks for.
        raise DeliveryError(f"created no deployment (HTTP {response.status_code})")
    return int(body["id"])


def _deployment_of(response: httpx.Response, release: str | None) -> int | None:
    """The newest deployment releasegate created (its payload says so), for `release` when
    given, if any."""
    try:
        items = response.json()
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    for item in items:
        payload = item.get("payload") if isinstance(item, Mapping) else None
        if not isinstance(payload, Mapping) or "releasegate_release" not in payload:
            continue
        if release is None or payload.get("releasegate_release") == release:
            return int(item["id"])
    return None


def _deliver(target: _Target, event: Event) -> None:
    budget = _Budget(TARGET_SECONDS)
    if target.kind == "slack":
        _post_json(target, str(target.settings["webhook_url"]), slack_payload(event), budget)
    elif target.kind == "teams":
        _post_json(target, str(target.settings["webhook_url"]), teams_payload(event), budget)
    elif target.kind == "webhook":
        _post_json(target, str(target.settings["url"]), webhook_payload(event), budget)
    else:
        _github(target, event, budget)


def notify(
    targets: Mapping[str, Any] | None, event: Event, known_secrets: Sequence[str] = ()
) -> list[str]:
    """Send `event` to every target, in parallel; return one warning per target that did not
    get it (naming the target's kind and why, never its URL). Never raises, and returns within
    about `TARGET_SECONDS` (a target still busy then is left to finish in the background)."""
    try:
        usable, warnings = _targets(targets)
        if not usable:
            return warnings
        secrets = [*known_secrets, *target_secrets(targets or {})]
        clean = _redacted(replace(event, at=event.at or utc_now()), secrets)
        results: dict[str, str | None] = {}
        threads = []
        for target in usable:
            thread = threading.Thread(
                target=_deliver_into, args=(target, clean, secrets, results),
                name=f"notify-{target.kind}", daemon=True,
            )  # fmt: skip
            thread.start()
            threads.append((target, thread))
        deadline = time.monotonic() + TARGET_SECONDS + 0.5
        for target, thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
            if thread.is_alive():
                warnings.append(
                    f"{target.kind} notification ({event.kind}) not confirmed: the receiver did "
                    f"not answer within {TARGET_SECONDS:g} s"
                )
            elif (problem := results.get(target.kind)) is not None:
                warnings.append(
                    f"{target.kind} notification ({event.kind}) not delivered: {problem}"
                )
        return warnings
    except Exception as exc:
        return [f"notifications ({event.kind}) not sent: internal error {type(exc).__name__}"]


def _deliver_into(
    target: _Target, event: Event, secrets: Sequence[str], results: dict[str, str | None]
) -> None:
    try:
        _deliver(target, event)
        results[target.kind] = None
    except DeliveryError as exc:
        results[target.kind] = redact(str(exc), secrets)
    except Exception as exc:
        results[target.kind] = f"internal error {type(exc).__name__}"


def log_warnings(warnings: Sequence[str]) -> None:
    """Show each warning in the `pulumi up` output (pulumi.log.warn; in a dynamic provider
    process without an engine connection it prints `warning: ...` to stderr)."""
    try:
        import pulumi  # noqa: PLC0415 - keeps this module importable without the SDK's state

        for warning in warnings:
            pulumi.log.warn(warning)
    except Exception:  # noqa: S110 - logging a warning must not fail a release
        pass


def send(
    notify_input: object,
    kind: EventKind,
    *,
    step: str | None = None,
    summary: str = "",
    details: Mapping[str, str] | None = None,
    known_secrets: object = None,
) -> list[str]:
    """Send one event as a provider's `notify` input describes it; nothing (no warning) when
    the stack has no notifications. Logs and returns the warnings."""
    if not isinstance(notify_input, Mapping) or is_unknown(notify_input, deep=True):
        return []
    targets = notify_input.get("targets")
    stack = notify_input.get("stack")
    release = notify_input.get("release")
    if not isinstance(targets, Mapping) or not targets or kind not in EVENT_KINDS:
        return []
    event = Event(
        kind=kind,
        stack=str(stack or "?"),
        release=str(release) if release else None,
        step=step,
        summary=summary,
        details=dict(details or {}),
    )
    warnings = notify(targets, event, known_secret_values(known_secrets))
    log_warnings(warnings)
    return warnings


def notify_problem(value: object) -> str | None:
    """Why a provider's `notify` input is unusable, or None (also while unknown). Never
    quotes the value: it holds secrets."""
    if value is None or is_unknown(value, deep=True):
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("targets"), Mapping):
        return "must be {targets, stack} (infra/release_notify.py builds it)"
    unknown = sorted(set(value["targets"]) - set(KINDS))
    if unknown:
        return f"unknown notification targets {unknown}; known: {', '.join(KINDS)}"
    return None


@contextmanager
def failure_notice(props: Mapping[str, Any], step: str | Callable[[], str]) -> Iterator[None]:
    """Around a provider's create/update: if it raises, send `failure` (the step, its image,
    the error message as the evidence, the rollback command) and re-raise the same error
    unchanged."""
    try:
        yield
    except Exception as exc:
        image = props.get("image")
        send(
            props.get("notify"),
            "failure",
            step=step() if callable(step) else step,
            summary=str(exc),
            details={"image": image} if isinstance(image, str) else None,
            known_secrets=props.get("known_secrets"),
        )
        raise
