"""Waits, after an identity's role assignments are created, until they can be relied on, before
the first Container App or job that uses them is created or started.

What a deployer can observe about propagation, and what it cannot:

- ARM answers the PUT of a role assignment before the assignment is in place everywhere
  (Azure/azure-rest-api-specs#9467: 201 Created, then 403 for the first seconds), and a GET right
  after may not find it. Terraform's azurerm provider polls the assignment until it reads it
  5 times in a row (hashicorp/terraform-provider-azurerm#6925); Azure's quickstart templates do
  the same (Azure/azure-quickstart-templates#8712). That is observable: done here first.
- Whether Key Vault or ACR already honour it for the identity is not observable by the deployer:
  only the identity itself could try, and it lives inside Container Apps. Microsoft documents
  that role assignment changes "can take up to 10 minutes" to take effect (Azure RBAC
  troubleshooting, "Role assignment changes are not being detected"), and there is no API that
  says when (Azure/azure-cli#22510). So after the reads, each assignment must also have
  existed for a settle period, counted from its `createdOn` (RoleAssignmentProperties in the
  Microsoft.Authorization spec) when ARM reports it: assignments a foundation `up` created
  minutes earlier need no sleep. It is a documented bet, not a proof. Container Apps refuse
  an app or job whose Key Vault reference the identity cannot read yet ("Unable to get value
  using Managed identity", microsoft/azure-container-apps#930, #1174); the migration backend
  additionally retries its start on that error within the migration's timeout
  (components/azure/job_migration.py).

Everything is bounded by `timeout_seconds` (default 600, the documented 10 minutes); past it the
error names the identity, the role and the scope that never became readable.

The wait runs on creation and only for assignments that are new: an unchanged set of
assignments is no change, so a later `up` does not wait again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CreateResult, DiffResult, UpdateResult

from components.azure import azure_clients
from components.gates.polling import PollTimeoutError, poll_until, stderr_progress
from components.gates.provider_base import GateProvider, is_unknown, utc_now

API_VERSION = "2022-04-01"
"""Microsoft.Authorization role assignments, stable (RoleAssignments_GetById)."""
TIMEOUT_SECONDS = 600.0
SETTLE_SECONDS = 60.0
POLL_SECONDS = 5.0
CONSECUTIVE_READS = 5
"""Reads in a row that must find the assignment, as azurerm does (#6925)."""


class RoleNotReadyError(RuntimeError):
    """A role assignment did not become readable within the bound; names identity and role."""


@dataclass(frozen=True)
class Assignment:
    id: str
    role: str
    """Human name of the role ("AcrPull", "Key Vault Secrets User") for messages."""
    scope: str


def _assignments(props: Mapping[str, Any]) -> list[Assignment]:
    return [Assignment(str(a["id"]), str(a["role"]), str(a["scope"]))
            for a in props.get("assignments") or []]  # fmt: skip


def _ids(props: Mapping[str, Any]) -> set[str] | None:
    values = props.get("assignments")
    if is_unknown(values, deep=True):
        return None
    return {str(a["id"]) for a in values or []}


def created_at(text: object) -> float | None:
    """ARM's `createdOn` (`2026-11-24T10:15:00.1234567Z`, up to 7 fraction digits) as epoch
    seconds, or None."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|\+00:00)?",
                         str(text or ""))  # fmt: skip
    if not match:
        return None
    when = datetime.fromisoformat(match[1]).replace(tzinfo=UTC).timestamp()
    return when + (float(f"0.{match[2]}") if match[2] else 0.0)


def _read(
    client: Any, assignment: Assignment, principal_id: str, created: dict[str, float | None]
) -> str | None:
    """None when ARM answers with this assignment for this principal (its `createdOn` goes into
    `created`), else what it answered."""
    from azure.core.rest import HttpRequest  # noqa: PLC0415

    try:
        response = client.send_request(
            HttpRequest("GET", f"{assignment.id}?api-version={API_VERSION}")
        )
    except Exception as exc:  # a transport error is one more failed read, never a pass
        return f"unreachable ({type(exc).__name__})"
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        properties = response.json().get("properties") or {}
    except ValueError:
        return "an unreadable body"
    if str(properties.get("principalId")) != principal_id:
        return f"principal {properties.get('principalId')}"
    created[assignment.id] = created_at(properties.get("createdOn"))
    return None


def wait_until_readable(
    props: Mapping[str, Any], only: set[str] | None = None
) -> tuple[dict[str, int], float]:
    """Polls every (new) assignment until each was read `consecutive` times in a row, then
    waits until each is `settle_seconds` old. Returns the reads each took and the seconds
    slept to settle; raises RoleNotReadyError past the bound."""
    identity, principal = str(props["identity"]), str(props["principal_id"])
    timeout = float(props.get("timeout_seconds") or TIMEOUT_SECONDS)
    settle = float(props.get("settle_seconds") or 0.0)
    poll = float(props.get("poll_seconds") or POLL_SECONDS)
    needed = int(props.get("consecutive") or CONSECUTIVE_READS)
    pending = [a for a in _assignments(props) if only is None or a.id in only]
    if not pending:
        return {}, 0.0
    client = azure_clients.container_apps(str(props["subscription_id"]))
    streak = {a.id: 0 for a in pending}
    reads = {a.id: 0 for a in pending}
    last: dict[str, str] = {}
    created: dict[str, float | None] = {}

    def read_round() -> list[Assignment]:
        """Reads every assignment not yet read `needed` times in a row; those still short."""
        for assignment in pending:
            if streak[assignment.id] >= needed:
                continue
            reads[assignment.id] += 1
            problem = _read(client, assignment, principal, created)
            if problem is None:
                streak[assignment.id] += 1
            else:
                streak[assignment.id] = 0
                last[assignment.id] = problem
        return [a for a in pending if streak[a.id] < needed]

    try:
        polled = poll_until(
            read_round, lambda waiting: not waiting,
            status=lambda waiting: f"{len(waiting)} of {len(pending)} assignment(s) not ready",
            deadline_seconds=timeout, interval_seconds=poll,
            describe=f"role assignments of identity {identity}", on_progress=stderr_progress,
        )  # fmt: skip
    except PollTimeoutError as exc:
        waiting, first = exc.last, exc.last[0]
        raise RoleNotReadyError(
            f"identity {identity} (principal {principal}): role {first.role} on "
            f"{first.scope} was not readable {needed} times in a row within {timeout:g}s "
            f"(last answer: {last.get(first.id, 'none')}); "
            + (f"{len(waiting) - 1} more assignment(s) also not ready; " if len(waiting) > 1
               else "")
            + "nothing that uses this identity was created. Check the assignment in the "
            "portal (Access control) and run `pulumi up` again"
        ) from None  # fmt: skip
    # Readable is necessary, not sufficient: the documented propagation has no signal, so
    # every assignment must also be `settle` seconds old (the whole period when ARM gave no
    # creation time).
    times = [created.get(a.id) for a in pending]
    youngest = None if any(t is None for t in times) else max(t for t in times if t is not None)
    wait = settle if youngest is None else min(settle, max(0.0, youngest + settle - time.time()))
    wait = min(wait, max(0.0, timeout - polled.elapsed))
    time.sleep(wait)
    return reads, wait


class RoleReadyProvider(GateProvider):
    """Waits on create, and on update only for assignments that were not there before."""

    INPUTS: ClassVar[tuple[str, ...]] = ("assignments",)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        old, new = _ids(_olds), _ids(_news)
        changed = new is None or old != new
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        reads, settled = wait_until_readable(props)
        return CreateResult(f"roles-{props['identity']}", {**props, "reads": reads,
                            "settled_seconds": settled, "ready_at": utc_now()})  # fmt: skip

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        new = (_ids(_news) or set()) - (_ids(_olds) or set())
        reads, settled = wait_until_readable(_news, only=new)
        return UpdateResult({**_news, "reads": reads, "settled_seconds": settled,
                             "ready_at": utc_now()})  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class RoleReadyArgs:
    subscription_id: pulumi.Input[str]
    identity: str
    """The identity's name, for messages."""
    principal_id: pulumi.Input[str]
    assignments: Sequence[Mapping[str, pulumi.Input[str]]]
    """`{"id": <role assignment id>, "role": <role name>, "scope": <scope>}` each."""
    timeout_seconds: float = TIMEOUT_SECONDS
    settle_seconds: float = SETTLE_SECONDS
    poll_seconds: float = POLL_SECONDS
    consecutive: int = CONSECUTIVE_READS


class RoleReady(pulumi.dynamic.Resource, module="azure", name="RoleReady"):
    ready_at: pulumi.Output[str]

    def __init__(
        self, name: str, args: RoleReadyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {"subscription_id": args.subscription_id, "identity": args.identity,
                 "principal_id": args.principal_id, "assignments": list(args.assignments),
                 "timeout_seconds": args.timeout_seconds, "settle_seconds": args.settle_seconds,
                 "poll_seconds": args.poll_seconds, "consecutive": args.consecutive,
                 "reads": None, "settled_seconds": None, "ready_at": None}  # fmt: skip
        super().__init__(RoleReadyProvider(), name, props, opts)
