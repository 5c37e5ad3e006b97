"""A local, HTTPS, scripted stand-in for the parts of Azure Resource Manager (and the ACR data
plane) the Azure backends call, answering with the real APIs' shapes: resource bodies with
`properties`, ARM error bodies, and long-running operations as 202 + `Location` polled until 200.

Tests script it through `ArmState` (which apps, revisions, job executions and backups exist and
how they progress) and read back what was asked of it (stops, traffic updates, start templates).
It listens on 127.0.0.1 only, with a throwaway self-signed certificate.
"""

from __future__ import annotations

import datetime
import json
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PREFIX = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers"


@dataclass
class ArmState:
    """What exists on the fake Azure, and how it changes as it is polled."""

    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    """app name -> {"traffic": [...], "latest_ready": str, "latest": str, "mode": "Multiple" or
    "Single", "template": {...} (the latest revision's, with its `revisionSuffix`)}"""
    revisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """revision name -> {"provisioning", "health", "running", "image", "active", "template",
    "app"}; scripted ones may give only the first four (active, one container of that image)."""
    new_revision_states: dict[str, dict[str, str]] = field(default_factory=dict)
    """image -> {"provisioning", "health", "running"} for revisions created with that image
    (default: Provisioned, Healthy, Running)."""
    app_writes: list[dict[str, Any]] = field(default_factory=list)
    """Every accepted PUT/PATCH of a container app: {"app", "created": revision or None,
    "traffic": [...] or None}."""
    executions: list[str] = field(default_factory=list)
    """Statuses the next execution goes through, one per poll; the last one stays."""
    start_never_completes: bool = False
    started: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    traffic_updates: list[list[dict[str, Any]]] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    backups: dict[str, dict[str, Any]] = field(default_factory=dict)
    backup_fails: bool = False
    creates: list[str] = field(default_factory=list)
    """Names of the backups PUT (created), in order."""
    backup_never_completes: bool = False
    """New backups stay in progress (no `completedTime`, their operation `InProgress`) until a
    test completes them with `complete_backups`."""
    tags: dict[str, str] = field(default_factory=dict)
    """ACR: "repository:tag" -> digest."""
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Container Apps job name -> {"identity": <identity id>, "secrets": [{name, keyVaultUrl,
    identity}], "template": {"containers": [...]}} (the job's own template)."""
    ran: list[dict[str, Any]] = field(default_factory=list)
    """Per execution started: {"job", "containers"}: the containers it ran, env as it ran."""
    identities: dict[str, str] = field(default_factory=dict)
    """User-assigned identity resource id -> its principal id."""
    vault_id: str = ""
    """The Key Vault's resource id; a Key Vault reference `https://<vault>.vault.azure.net/
    secrets/<name>` is read under the scope `<vault_id>/secrets/<name>`."""
    role_assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Role assignment id -> {"scope", "principalId", "roleDefinitionId", "pending", optional
    "createdOn" (ARM's `2026-11-24T10:15:00.1234567Z`)}: a new
    assignment is not effective for its first `pending` calls that rely on it (reads of it:
    404; a job start whose identity needs it: Container Apps' Key Vault error). Sources: the
    PUT answers before the assignment is in place (Azure/azure-rest-api-specs#9467), reads
    right after can miss it (hashicorp/terraform-provider-azurerm#6925), changes take up to
    10 minutes (Azure RBAC troubleshooting). The model is ours: real Azure gives no count."""
    _polls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def complete_backups(self, when: str = "2026-11-24T10:20:00Z") -> None:
        """Every backup in progress completes (gets its `completedTime`)."""
        for backup in self.backups.values():
            backup["properties"].setdefault("completedTime", when)


SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"


def _effective(state: ArmState, principal: str, scope: str) -> bool:
    """Whether `principal` may read secrets under `scope` now; a matching assignment that is
    still pending uses up one of its calls and is not effective yet."""
    for assignment in state.role_assignments.values():
        if (assignment["principalId"] == principal
                and assignment["roleDefinitionId"].endswith(SECRETS_USER_ROLE)
                and scope.lower().startswith(assignment["scope"].lower())):  # fmt: skip
            if assignment.get("pending", 0) > 0:
                assignment["pending"] -= 1
                continue
            return True
    return False


def _unreadable_secret(state: ArmState, job: dict[str, Any]) -> str | None:
    """Container Apps' error when the job's identity cannot read one of its Key Vault
    references (message as in microsoft/azure-container-apps#930 and #1174), else None."""
    for secret in job.get("secrets") or []:
        url = secret.get("keyVaultUrl")
        if not url:
            continue
        name = url.rstrip("/").split("/secrets/")[1].split("/")[0]
        identity = secret.get("identity") or ""
        principal = state.identities.get(identity, "")
        if not _effective(state, principal, f"{state.vault_id}/secrets/{name}"):
            return (
                "The following field(s) are either invalid or missing. Field "
                "'configuration.secrets' is invalid with details: 'Invalid value: "
                f"\"{secret['name']}\": Unable to get value using Managed identity {identity} "
                f"for secret {secret['name']}. Error: unable to fetch secret '{secret['name']}' "
                f"using Managed identity '{identity}'';."
            )
    return None


def _app_body(sub: str, group: str, name: str, app: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.App/"
              f"containerApps/{name}",
        "name": name, "type": "Microsoft.App/containerApps", "location": "westeurope",
        "properties": {
            "provisioningState": "Succeeded",
            "latestRevisionName": app.get("latest", app.get("latest_ready")),
            "latestReadyRevisionName": app.get("latest_ready"),
            "configuration": {"activeRevisionsMode": app.get("mode", "Multiple"),
                              "ingress": {"external": True, "targetPort": 8000,
                                          "traffic": app.get("traffic", [])}},
            "template": app.get("template"),
        },
    }  # fmt: skip


def _revision_template(revision: dict[str, Any]) -> dict[str, Any]:
    return revision.get("template") or {"containers": [{"name": "api",
                                                        "image": revision["image"]}]}


def _revision_body(path: str, name: str, revision: dict[str, Any]) -> dict[str, Any]:
    active = revision.get("active", True)
    return {"id": path, "name": name, "type": "Microsoft.App/containerApps/revisions",
            "properties": {
                "provisioningState": revision["provisioning"],
                "healthState": revision["health"], "runningState": revision["running"],
                "active": active, "replicas": revision.get("replicas", 1) if active else 0,
                "template": _revision_template(revision)}}  # fmt: skip


# Container Apps' rules for a revision name, as ARM words its refusal
# (ContainerAppInvalidRevisionName: microsoft/azure-container-apps#1443, #1460,
# Azure/azure-quickstart-templates#14660): the whole revision name counts against 54.
REVISION_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _scale_refusal(app: str, scale: dict[str, Any] | None) -> dict[str, Any] | None:
    """ARM's refusal of a revision's scale limits: minReplicas from 0, maxReplicas from 1 (and
    at most 1000), never below minReplicas (learn.microsoft.com/azure/container-apps/scale-app,
    scale definition). The message is ARM's as quoted in MicrosoftDocs/azure-docs#89742 (its
    upper limit then was 10); the code is ours (no public source names one)."""
    if not scale:
        return None
    low, high = scale.get("minReplicas"), scale.get("maxReplicas")
    wrong_low = low is not None and not 0 <= low <= 1000
    wrong_high = high is not None and not 1 <= high <= 1000
    if wrong_low or wrong_high or (low is not None and high is not None and high < low):
        return _error("BadRequest", (
            f"The scale options provided for Container App '{app}' is incorrect. The values "
            "must be positive, maxReplicas must not be less than minReplicas. The maxReplicas "
            "must not be bigger than 1000."))  # fmt: skip
    return None


def _write_app(state: ArmState, name: str, body: dict[str, Any]) -> tuple[int, Any]:
    """A PUT (create or update) or PATCH of a container app, with the rules the release relies
    on; returns (status, error body) on a refusal, (200, None) when applied."""
    properties = body.get("properties") or {}
    configuration = properties.get("configuration") or {}
    app = state.apps.setdefault(name, {"traffic": [], "mode": "Multiple"})
    app["mode"] = configuration.get("activeRevisionsMode") or app.get("mode", "Multiple")
    template = properties.get("template")
    if refused := _scale_refusal(name, (template or {}).get("scale")):
        return 400, refused
    created = None
    current = app.get("template") or {}
    if template and (_content(template) != _content(current) or (
            template.get("revisionSuffix") and
            template.get("revisionSuffix") != current.get("revisionSuffix"))):  # fmt: skip
        suffix = template.get("revisionSuffix") or f"gen{len(state.revisions) + 1:06d}"
        created = f"{name}--{suffix}"
        if not (REVISION_NAME.match(suffix) and "--" not in suffix and len(created) <= 54):
            return 400, _error("ContainerAppInvalidRevisionName", (
                f"Revision name has an invalid value '{created}'. A revision name must consist "
                "of lower case alphanumeric characters or '-', start with an alphabetic "
                "character, and end with an alphanumeric character. The length of the revision "
                "name must not be more than a combined 54 characters with the container app "
                "name."))  # fmt: skip
        if created in state.revisions:
            # A suffix is used once per app: Azure/terraform-azurerm-avm-res-app-containerapp
            # #115 (message); the code is the one ARM uses for revision provisioning failures
            # (Azure/azure-dev#7249). Older behaviour was a silent no-op for an inactive
            # revision (microsoft/azure-container-apps#650): either way, never reuse one.
            return 400, _error("ContainerAppOperationError", (
                f"Failed to provision revision for container app '{name}'. Error details: The "
                "following field(s) are either invalid or missing. Field "
                f"'template.revisionsuffix' is invalid with details: 'Invalid value: "
                f"\"{suffix}\": revision with suffix {suffix} already exists';."))  # fmt: skip
    traffic = (configuration.get("ingress") or {}).get("traffic")
    if traffic is not None and app["mode"] == "Multiple":
        # "split incoming traffic between active revisions ... The combined weight of all
        # traffic split rules must equal 100%" (learn.microsoft.com/azure/container-apps/
        # traffic-splitting). ARM has been seen accepting weight on an inactive revision, which
        # then serves nothing (microsoft/azure-container-apps#1345): refused here, so the
        # code never relies on it. The error code is ours (no public source names one).
        if sum(int(w.get("weight") or 0) for w in traffic) != 100:
            return 400, _error("BadRequest", "The total traffic weight must add up to 100.")
        for weight in traffic:
            named = weight.get("revisionName")
            if named and (named not in state.revisions or (named != created and not
                                                           state.revisions[named].get("active",
                                                                                      True))):
                return 400, _error("BadRequest", f"Traffic weight names revision '{named}', "
                                   "which is not an active revision of the app.")  # fmt: skip
    if created and template:
        image = template["containers"][0]["image"]
        states = {"provisioning": "Provisioned", "health": "Healthy", "running": "Running",
                  **state.new_revision_states.get(image, {})}  # fmt: skip
        state.revisions[created] = {**states, "image": image, "active": True, "app": name,
                                    "template": template}  # fmt: skip
        if (template.get("scale") or {}).get("minReplicas") == 0 and not template.get("rules"):
            # minReplicas 0, no scale rule: an app without ingress stays at zero replicas
            # (learn.microsoft.com/azure/container-apps/scale-app, "Default scale rule")
            state.revisions[created]["replicas"] = 0
        if app["mode"] == "Single":  # "single: one revision active at a time", the old one
            # deactivated once the new one is ready (learn.microsoft.com/azure/container-apps/
            # revisions, revision modes); here at once, revisions start ready unless scripted
            for other, revision in state.revisions.items():
                if other != created and revision.get("app") == name:
                    revision["active"] = False
        app["template"] = template
        app["latest"] = created
        if states["provisioning"] == "Provisioned":
            app["latest_ready"] = created
    if traffic is not None:
        app["traffic"] = traffic
        state.traffic_updates.append(traffic)
    state.app_writes.append({"app": name, "created": created, "traffic": traffic})
    return 200, None


def _content(template: dict[str, Any]) -> Any:
    return json.dumps({k: v for k, v in template.items() if k != "revisionSuffix"},
                      sort_keys=True)  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as ARM speaks
    state: ArmState
    base: str

    def log_message(self, *_args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 202:
            self.send_header("Retry-After", "0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self, what: str) -> None:
        self._send(404, {"error": {"code": "ResourceNotFound", "message": f"{what} not found"}})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        s = self.state
        if m := re.fullmatch(r"(.+)/providers/Microsoft\.Authorization/roleAssignments/([^/]+)",
                             path):  # fmt: skip
            with s.lock:
                assignment = s.role_assignments.get(path)
                if assignment is not None and assignment.get("pending", 0) > 0:
                    assignment["pending"] -= 1
                    assignment = None
            if assignment is None:
                return self._send(404, {"error": {"code": "RoleAssignmentNotFound",
                                                  "message": f"The role assignment '{m[2]}' is "
                                                  "not found."}})  # fmt: skip
            return self._send(200, {"id": path, "name": m[2], "type":
                                    "Microsoft.Authorization/roleAssignments", "properties": {
                "scope": assignment["scope"], "principalId": assignment["principalId"],
                "roleDefinitionId": assignment["roleDefinitionId"],
                "principalType": "ServicePrincipal",
                **({"createdOn": assignment["createdOn"]} if "createdOn" in assignment else {}),
            }})  # fmt: skip
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/jobs/([^/]+)", path):
            job = s.jobs.get(m[3])
            if job is None:
                return self._not_found(f"job {m[3]}")
            identity = job.get("identity")
            return self._send(200, {"id": path, "name": m[3], "type": "Microsoft.App/jobs",
                                    "location": "westeurope", "identity": {
                "type": "UserAssigned", "userAssignedIdentities": {identity: {
                    "principalId": s.identities.get(identity, ""), "clientId": "c"}}}
                if identity else None, "properties": {
                "provisioningState": "Succeeded",
                "configuration": {"triggerType": "Manual", "replicaTimeout": 1800,
                                  "secrets": [{k: v for k, v in secret.items() if k != "value"}
                                              for secret in job.get("secrets") or []]},
                "template": job["template"]}})  # fmt: skip
        apps = PREFIX + r"/Microsoft.App/containerApps/([^/]+)"
        if m := re.fullmatch(apps + r"/revisions", path):
            return self._send(200, {"value": [
                _revision_body(f"{path}/{n}", n, r) for n, r in s.revisions.items()
                if r.get("app", m[3]) == m[3]]})  # fmt: skip
        if m := re.fullmatch(apps + r"/revisions/([^/]+)", path):
            revision = s.revisions.get(m[4])
            if revision is None:
                return self._not_found(f"revision {m[4]}")
            return self._send(200, _revision_body(path, m[4], revision))
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/containerApps/([^/]+)", path):
            app = s.apps.get(m[3])
            if app is None:
                return self._not_found(f"container app {m[3]}")
            return self._send(200, _app_body(m["sub"], m["group"], m[3], app))
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/jobs/([^/]+)/executions/([^/]+)", path):
            with s.lock:
                index = min(s._polls, len(s.executions) - 1)
                s._polls += 1
                status = s.executions[index]
            return self._send(200, {"id": path, "name": m[4], "properties": {
                "status": status, "startTime": "2026-11-24T10:15:00Z",
                "endTime": "2026-11-24T10:16:00Z" if status != "Running" else None}})
        if m := re.fullmatch(r"/operations/start/([^/]+)", path):
            if s.start_never_completes:
                return self._send(202, None, {"Location": f"{self.base}{path}"})
            return self._send(200, {"id": f"/executions/{m[1]}", "name": m[1]})
        if re.fullmatch(r"/operations/done", path):
            return self._send(200, {"status": "Succeeded"})
        if re.fullmatch(r"/operations/running", path):
            return self._send(200, {"status": "InProgress"})
        if re.fullmatch(PREFIX + r"/Microsoft.DBforPostgreSQL/flexibleServers/([^/]+)/backups",
                        path):  # fmt: skip
            return self._send(200, {"value": list(s.backups.values())})
        if m := re.fullmatch(PREFIX + r"/Microsoft.DBforPostgreSQL/flexibleServers/([^/]+)"
                             r"/backups/([^/]+)", path):  # fmt: skip
            backup = s.backups.get(m[4])
            if backup is None:
                return self._not_found(f"backup {m[4]}")
            return self._send(200, backup)
        if m := re.fullmatch(r"/acr/v1/(.+)/_tags/([^/]+)", path):
            digest = s.tags.get(f"{m[1]}:{m[2]}")
            if digest is None:
                unknown = {"errors": [{"code": "TAG_UNKNOWN", "message": "tag unknown"}]}
                return self._send(404, unknown)
            now = "2026-11-24T10:00:00Z"
            return self._send(200, {"registry": "local", "imageName": m[1], "tag": {
                "name": m[2], "digest": digest, "createdTime": now, "lastUpdateTime": now,
                "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True,
                                         "listEnabled": True, "readEnabled": True}}})
        if m := re.fullmatch(r"/acr/v1/(.+)/_manifests/([^/]+)", path):
            now = "2026-11-24T10:00:00Z"
            return self._send(200, {"registry": "local", "imageName": m[1], "manifest": {
                "digest": m[2], "createdTime": now, "lastUpdateTime": now,
                "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True,
                                         "listEnabled": True, "readEnabled": True}}})
        return self._not_found(path)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        s = self.state
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/jobs/([^/]+)/start", path):
            body = self._body() or {}
            s.started.append(body)
            job = s.jobs.get(m[3])
            if job is None:
                return self._not_found(f"job {m[3]}")
            with s.lock:
                refused = _unreadable_secret(s, job)
            if refused:
                return self._send(400, {"error": {
                    "code": "InvalidParameterValueInContainerTemplate", "message": refused}})
            # The start template, when given, is the execution's container list: it replaces
            # the job's containers, never merges (Jobs_Start / JobExecutionTemplate in
            # azure-rest-api-specs .../ContainerApps/stable/2025-01-01/Jobs.json documents no
            # merge; the conservative reading).
            containers = body.get("containers") or job["template"]["containers"]
            s.ran.append({"job": m[3], "containers": containers})
            return self._send(202, {"id": "/executions/exec-1", "name": "exec-1"},
                              {"Location": f"{self.base}/operations/start/exec-1"})
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/containerApps/([^/]+)/revisions/([^/]+)"
                             r"/(activate|deactivate)", path):  # fmt: skip
            revision = s.revisions.get(m[4])
            if revision is None:
                return self._not_found(f"revision {m[4]}")
            revision["active"] = m[5] == "activate"  # deactivated: no replicas, serves nothing
            (s.activated if m[5] == "activate" else s.deactivated).append(m[4])
            return self._send(200, None)
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/jobs/([^/]+)/executions/([^/]+)/stop",
                             path):  # fmt: skip
            s.stopped.append(m[4])
            return self._send(202, None, {"Location": f"{self.base}/operations/done"})
        return self._not_found(path)

    def do_PATCH(self) -> None:
        path = urlsplit(self.path).path
        s = self.state
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/containerApps/([^/]+)", path):
            if m[3] not in s.apps:
                return self._not_found(f"container app {m[3]}")
            return self._write(m, self._body())
        return self._not_found(path)

    def _write(self, m: re.Match[str], body: Any) -> None:
        with self.state.lock:
            status, error = _write_app(self.state, m[3], body or {})
        if error is not None:
            return self._send(status, error)
        return self._send(200, _app_body(m["sub"], m["group"], m[3], self.state.apps[m[3]]))

    def do_PUT(self) -> None:
        path = urlsplit(self.path).path
        s = self.state
        if m := re.fullmatch(PREFIX + r"/Microsoft.App/containerApps/([^/]+)", path):
            return self._write(m, self._body())
        if m := re.fullmatch(PREFIX + r"/Microsoft.DBforPostgreSQL/flexibleServers/([^/]+)"
                             r"/backups/([^/]+)", path):  # fmt: skip
            if s.backup_fails:
                return self._send(409, {"error": {"code": "ServerBusy",
                                                  "message": "another operation is running"}})
            s.creates.append(m[4])
            running = s.backup_never_completes
            properties: dict[str, Any] = {"backupType": "Customer On-Demand"}
            if not running:
                properties["completedTime"] = "2026-11-24T10:15:30Z"
            s.backups[m[4]] = {"id": path, "name": m[4], "type":
                               "Microsoft.DBforPostgreSQL/flexibleServers/backups",
                               "properties": properties}  # fmt: skip
            operation = "running" if running else "done"
            return self._send(202, None, {
                "Azure-AsyncOperation": f"{self.base}/operations/{operation}",
                "Location": f"{self.base}{path}"})  # fmt: skip
        return self._not_found(path)


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress  # noqa: PLC0415

    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "arm.pem", folder / "arm.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


@dataclass(frozen=True)
class ArmServer:
    url: str
    host: str
    """`127.0.0.1:port`, as a registry login server."""
    ca_bundle: Path
    state: ArmState


@contextmanager
def serve(folder: Path) -> Iterator[ArmServer]:
    cert, key = _certificate(folder)
    state = ArmState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    host = f"127.0.0.1:{server.server_address[1]}"
    handler = type("Handler", (_Handler,), {"state": state, "base": f"https://{host}"})
    server.RequestHandlerClass = handler
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ArmServer(f"https://{host}", host, cert, state)
    finally:
        server.shutdown()
        server.server_close()
