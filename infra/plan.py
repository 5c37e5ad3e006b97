"""The offline plan: the real program evaluated under Pulumi mocks with a stack's config.

No cloud, no Docker, no credentials: the program registers its resources against a recording
mock monitor and the plan is the list of what it registered, with inputs, parents,
dependencies and `protect`. Secret values print as `[secret]`. Digests cannot be resolved
offline; pins get deterministic placeholder digests derived from the reference, so two plans
of the same config are identical and a re-pin shows up as a change.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import hashlib
import json
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.gates.attempt import start_attempt
from components.gates.ledger import record_release
from infra import plan_outputs_aws, plan_outputs_azure, pulumi_internals
from infra.plan_freeze import freeze_notes
from infra.settings import NAMESPACE

SECRET = "[secret]"  # noqa: S105 - the mask printed in place of secret values
PROJECT_ROOT = Path(__file__).resolve().parent.parent
OFFLINE_TIME = "1970-01-01T00:00:00Z"
PLACEHOLDER_SECRET = "offline-placeholder-secret"  # noqa: S105 - stands in for `secure:` values
INTERNAL_INPUTS = frozenset({"__provider"})


class PlanError(Exception):
    """A problem with the plan's own inputs (stack file, --set); printed without traceback."""


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]
    dependencies: list[str]
    protect: bool
    custom: bool
    fingerprints: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Per input, a hash of the raw value (secrets included), never printed: lets a diff see
    that a secret changed (a database cut-over changes DATABASE_URL) while showing [secret]."""

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            "dependencies": self.dependencies,
            "protect": self.protect,
        }


@dataclass(frozen=True)
class Plan:
    stack: str
    cloud: str
    resources: list[PlannedResource]
    notes: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs the program exports (`pushTo`, `nextStep`, `ledger`...); a value that
    is or holds a secret prints as [secret]."""

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "cloud": self.cloud,
            "resources": [r.as_json() for r in self.resources],
            "notes": self.notes,
            "outputs": self.outputs,
        }

    @property
    def foundation_only(self) -> bool:
        """The stack pins no release: the program exported `nextStep` instead of a ledger."""
        return "nextStep" in self.outputs

    def by_urn(self) -> dict[str, PlannedResource]:
        return {r.urn: r for r in self.resources}


class ConfigLoader(yaml.SafeLoader):
    """YAML as Pulumi reads config: timestamps stay strings (`2026-11-24T10:15:00Z` is a value
    to pass on, not a datetime)."""


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# ---------------------------------------------------------------------------------------------
# Stack config: Pulumi.yaml + Pulumi.<stack>.yaml (+ --set), the way the engine would pass it.


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, Any]
    """Fully qualified key -> value (objects stay objects)."""
    secret_keys: frozenset[str]


def load_stack_config(
    stack: str, config_file: Path | None = None, root: Path = PROJECT_ROOT
) -> StackConfig:
    project_file = root / "Pulumi.yaml"
    project_doc = _read_yaml(project_file)
    project = project_doc.get("name")
    if not isinstance(project, str):
        raise PlanError(f"{project_file}: no project name")
    path = config_file or root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise PlanError(f"no stack file {path}; stacks with a file here: {', '.join(known)}")
    stack_doc = _read_yaml(path)
    values: dict[str, Any] = {}
    for key, decl in (project_doc.get("config") or {}).items():
        if isinstance(decl, dict) and "default" in decl:
            values[_qualify(project, key)] = decl["default"]
        elif isinstance(decl, dict) and "value" in decl:
            values[_qualify(project, key)] = decl["value"]
    secret_keys: set[str] = set()
    for key, value in (stack_doc.get("config") or {}).items():
        full = _qualify(project, str(key))
        cleaned, had_secret = _strip_secure(value)
        values[full] = cleaned
        if had_secret:
            secret_keys.add(full)
    return StackConfig(
        project=project, stack=stack, values=values, secret_keys=frozenset(secret_keys)
    )


def apply_sets(config: StackConfig, assignments: list[str]) -> StackConfig:
    """Apply `--set path=value` like `pulumi config set --path`: `release.api=v1.4.1`."""
    values = copy.deepcopy(config.values)
    for assignment in assignments:
        path, sep, text = assignment.partition("=")
        if not sep or not path:
            raise PlanError(f"--set {assignment!r}: expected PATH=VALUE, e.g. release.api=v1.4.1")
        key, _, rest = path.partition(".")
        full = _qualify(config.project, key)
        value = _parse_value(text)
        if not rest:
            values[full] = value
            continue
        node = values.setdefault(full, {})
        parts = rest.split(".")
        for part in parts[:-1]:
            if not isinstance(node, dict):
                raise PlanError(f"--set {assignment!r}: {part!r} is inside a non-object value")
            node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise PlanError(f"--set {assignment!r}: {path!r} is inside a non-object value")
        node[parts[-1]] = value
    return StackConfig(config.project, config.stack, values, config.secret_keys)


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _parse_value(text: str) -> Any:
    try:
        value = yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return text
    # Tags such as 1.10 would turn into floats; keep them as written.
    if isinstance(value, float) or value is None:
        return text
    return value


def _strip_secure(value: Any) -> tuple[Any, bool]:
    """Replace encrypted `secure:` values (undecryptable offline) with a placeholder."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return PLACEHOLDER_SECRET, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], secret = _strip_secure(v)
            found = found or secret
        return out, found
    if isinstance(value, list):
        items = [_strip_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.load(path.read_text(), Loader=ConfigLoader)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise PlanError(f"{path}: expected a YAML mapping at the top level")
    return doc


# ---------------------------------------------------------------------------------------------
# Mocks: deterministic outputs for every resource type the program registers.


def fake_digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


class PlanMocks(pulumi.runtime.Mocks):
    """Outputs that a real deployment would produce, made up deterministically from inputs.

    `config` is the stack's config (full keys), for made-up cloud outputs that depend on it
    (the region in an ARN)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.config: Mapping[str, Any] = config or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        outputs = {**inputs, **self._extra_outputs(args.typ, args.name, inputs)}
        return f"{args.name}-id", outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        for table in (plan_outputs_aws.INVOKES, plan_outputs_azure.INVOKES):
            answer = table.get(args.token)
            if answer is not None:
                return answer(_plain_tree(args.args), self.config), []
        return {}, []

    def _extra_outputs(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if pulumi_internals.is_secret(value):
                return pulumi_internals.unwrap_secret(value)
            return value

        if typ.endswith(":ImagePin"):
            reference = str(plain(inputs.get("reference")))
            expected = plain(inputs.get("expected_digest"))
            registry, repository = plain(inputs.get("registry")), plain(inputs.get("repository"))
            tag, _, pinned = reference.rpartition("@")  # a tag, a digest or tag@digest
            digest = (
                pinned
                if pinned.startswith("sha256:")
                else expected or fake_digest(str(registry), str(repository), reference)
            )
            return {
                "digest": digest,
                "image_ref": f"{registry}/{repository}@{digest}",
                "tag": (tag or None) if pinned.startswith("sha256:") else reference,
                "resolved_at": OFFLINE_TIME,
            }
        if typ.endswith(":HealthGate"):
            return {
                "evidence": {
                    "checked_at": OFFLINE_TIME,
                    "observations": [],
                    "served_version": None,
                    "elapsed_seconds": 0,
                    "consecutive_successes": 0,
                },
            }
        if typ.endswith(":MigrationRun"):
            return {
                "exit_code": 0,
                "started_at": OFFLINE_TIME,
                "finished_at": OFFLINE_TIME,
                "log_tail": "",
                "history": [],
            }
        if typ.endswith(":VerifyRun"):
            # As components/gates/verify_run.py's provider returns them after a run that
            # passed, so the ledger's verify summary is what a real release records.
            return {
                "exit_code": 0,
                "log_tail": "",
                "evidence": {
                    "checked_at": OFFLINE_TIME,
                    "started_at": OFFLINE_TIME,
                    "exit_code": 0,
                    "duration_seconds": 0.0,
                    "image": plain(inputs.get("image")),
                },
            }
        if typ.endswith(":PreMigrationSnapshot"):
            snapshot = f"pre-migrate-{plain(inputs.get('release'))}-offline"
            return {
                "snapshot_name": snapshot,
                "location": f"offline:{snapshot}",
                "size_bytes": 0,
                "taken_at": OFFLINE_TIME,
            }
        if typ.endswith(":ReleaseLedger"):
            release = plain(inputs.get("release")) or {}
            return record_release(release, None, int(plain(inputs.get("keep")) or 20), OFFLINE_TIME)
        if typ.endswith(":ReleaseAttempt"):
            props = {k: plain(v) for k, v in inputs.items()}
            return start_attempt(props, None, int(props.get("keep") or 40), OFFLINE_TIME)
        if typ == "docker:index/image:Image":
            image_name = str(plain(inputs.get("imageName")))
            repository = image_name.rsplit(":", 1)[0]
            build = json.dumps(inputs.get("build"), sort_keys=True, default=str)
            return {"repoDigest": f"{repository}@{fake_digest(image_name, build)}"}
        if typ == "docker:index/remoteImage:RemoteImage":
            image = str(plain(inputs.get("name")))
            return {"imageId": fake_digest("image-id", image), "repoDigest": image}
        if typ == "random:index/randomPassword:RandomPassword":
            return {"result": f"offline-{name}", "bcryptHash": "offline"}
        if typ == "random:index/randomId:RandomId":
            return {"hex": fake_digest("random-id", name)[7:15], "b64Url": "offline"}
        for table in (plan_outputs_aws.OUTPUTS, plan_outputs_azure.OUTPUTS):
            maker = table.get(typ)
            if maker is not None:
                return maker(name, _plain_tree(inputs), self.config)
        return {}


def _plain_tree(value: Any) -> Any:
    """Inputs with secret wrappers removed, for the made-up cloud outputs."""
    if pulumi_internals.is_secret(value):
        return _plain_tree(pulumi_internals.unwrap_secret(value))
    if isinstance(value, dict):
        return {k: _plain_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_tree(v) for v in value]
    return value


class RecordingMonitor(pulumi_internals.MockMonitor):
    """A mock monitor that also keeps what the program asked for: parent, deps, protect."""

    def __init__(self, mock: pulumi.runtime.Mocks) -> None:
        super().__init__(mock)
        self.records: list[PlannedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            raw_inputs = pulumi_internals.deserialize_properties(request.object)
            self.records.append(
                PlannedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    inputs=_present(raw_inputs),
                    fingerprints=_fingerprints(raw_inputs),
                    dependencies=sorted(set(request.dependencies)),
                    protect=bool(request.protect),
                    custom=bool(request.custom),
                )
            )
        return response


def _present(value: Any) -> Any:
    """Inputs as a reader sees them: secrets masked, provider internals dropped."""
    if pulumi_internals.is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: _present(v) for k, v in sorted(value.items()) if k not in INTERNAL_INPUTS}
    if isinstance(value, list):
        return [_present(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; show 5000, not 5000.0
    return value


def _fingerprints(inputs: Mapping[str, Any]) -> dict[str, str]:
    def plain(value: Any) -> Any:
        if pulumi_internals.is_secret(value):
            return plain(pulumi_internals.unwrap_secret(value))
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {
        key: hashlib.sha256(json.dumps(plain(v), sort_keys=True, default=str).encode()).hexdigest()
        for key, v in inputs.items()
        if key not in INTERNAL_INPUTS
    }


def _config_strings(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


class _WorkerLoops:
    """The thread pool that carries the program's calls to the mock monitor.

    The monitor gives each worker thread its own event loop (`_ensure_event_loop`) and never
    closes it; left to the garbage collector at interpreter exit, such a loop can fail in its
    finaliser ("Invalid file descriptor: -1") after the streams are gone. Here each worker
    gets its loop up front, and `close` joins the workers and closes every loop they had."""

    def __init__(self) -> None:
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()
        self.executor = ThreadPoolExecutor(
            thread_name_prefix="mock-monitor", initializer=self._start
        )

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with self._lock:
            self._loops.append(loop)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            loop.close()


def run_under_mocks(
    program: Callable[[], Awaitable[None] | None],
    monitor: pulumi_internals.MockMonitor,
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any] | None = None,
    secret_keys: Sequence[str] = (),
) -> None:
    """Run `program` as a Pulumi program against `monitor` (and its mocks), in a fresh event
    loop and context, so one run never sees another's root stack, config or outputs."""

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        workers = _WorkerLoops()
        loop.set_default_executor(workers.executor)
        try:
            pulumi.runtime.reset_options(project=project, stack=stack, preview=False)
            pulumi.runtime.set_mocks(
                monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor
            )
            pulumi.runtime.set_all_config(_config_strings(config or {}), list(secret_keys))
            loop.run_until_complete(pulumi_internals.run_program(program))
        finally:
            pulumi.runtime.set_all_config({}, [])
            asyncio.set_event_loop(None)
            loop.close()
            workers.close()

    contextvars.copy_context().run(run)


def evaluate(config: StackConfig, monitor: RecordingMonitor | None = None) -> Plan:
    """Run the real program under mocks with `config`.

    Pass a `monitor` to inspect what was registered even when the program fails.
    """
    from infra.program import define_stack  # noqa: PLC0415 - imported after mocks are set

    monitor = monitor or RecordingMonitor(PlanMocks(config.values))
    outputs: dict[str, Any] = {}

    def program() -> Awaitable[None]:
        define_stack()
        return _collect_outputs(outputs)

    run_under_mocks(
        program,
        monitor,
        project=config.project,
        stack=config.stack,
        config=config.values,
        secret_keys=sorted(config.secret_keys),
    )
    cloud = config.values.get(f"{NAMESPACE}:cloud", "")
    if "nextStep" in outputs:
        notes = [
            f"foundation only: {NAMESPACE}:release names no pins, so this stack deploys the "
            "network, keys, registry, secrets store, database (and cache) and load balancer or "
            "app environment, and nothing of a release (no pin, snapshot, migration, service, "
            "gate or ledger)",
            "push to: "
            + ", ".join(f"{image} -> {url}" for image, url in dict(outputs["pushTo"]).items()),
            str(outputs["nextStep"]),
        ]
    else:
        notes = [
            "offline plan: image digests are placeholders derived from each pin; "
            "`pulumi preview` resolves the real ones from the registry",
        ]
    notes += cache_notes(monitor.records)
    notes += freeze_notes(monitor.records, datetime.now(UTC))
    return Plan(
        stack=config.stack,
        cloud=str(cloud),
        resources=monitor.records,
        notes=notes,
        outputs=outputs,
    )


def cache_notes(resources: Sequence[PlannedResource]) -> list[str]:
    """One line per cache in the plan (`releasegate:cache`): engine, size, failover and
    snapshots, so a reader sees what the stack's cache is without reading its inputs."""
    notes = []
    by_urn = {r.urn: r for r in resources}
    for r in resources:
        i = r.inputs
        protected = ", protected" if r.protect else ""
        if r.type == "aws:elasticache/replicationGroup:ReplicationGroup":
            replicas = int(i.get("numCacheClusters") or 1) - 1
            notes.append(
                f"cache: {i.get('engine')} {i.get('engineVersion')} on {i.get('nodeType')}, "
                f"{replicas} replica(s), automatic failover "
                f"{_on(i.get('automaticFailoverEnabled'))}, Multi-AZ {_on(i.get('multiAzEnabled'))}"
                f", snapshots kept {i.get('snapshotRetentionLimit')} day(s){protected}"
            )
        elif r.type == "azure-native:redisenterprise:RedisEnterprise":
            databases = [d for d in resources if d.type == "azure-native:redisenterprise:Database"]
            persistence = (databases[0].inputs.get("persistence") or {}) if databases else {}
            rdb = persistence.get("rdbFrequency") if persistence.get("rdbEnabled") else None
            notes.append(
                f"cache: Azure Managed Redis {(i.get('sku') or {}).get('name')}, high "
                f"availability {str(i.get('highAvailability') or 'Disabled').lower()}, RDB "
                f"persistence {f'every {rdb}' if rdb else 'off'}{protected}"
            )
        elif r.type == "docker:index/remoteImage:RemoteImage":
            parent = by_urn.get(r.parent)
            if parent is not None and parent.type == "releasegate:local:Cache":
                server = next((c for c in resources if c.parent == parent.urn
                               and c.type == "docker:index/container:Container"), None)  # fmt: skip
                name = server.inputs.get("name") if server else None
                locked = ", protected" if server is not None and server.protect else ""
                notes.append(
                    f"cache: {i.get('name')} container {name}, one node (replicas and "
                    f"failover are cloud settings), append-only file and RDB snapshots on "
                    f"its data volume{locked}"
                )
    return notes


def _on(value: Any) -> str:
    return "on" if value else "off"


async def _collect_outputs(into: dict[str, Any]) -> None:
    """Resolve the root stack's exports into `into` (under mocks the engine never receives
    them: the mock stack registers its outputs before the program runs)."""
    root = pulumi.runtime.get_root_resource()
    exported: dict[str, Any] = dict(getattr(root, "outputs", None) or {})
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        into[key] = SECRET if await output.is_secret() else await output.future()


# ---------------------------------------------------------------------------------------------
# Diff of two plans: what a change of config (a re-pin) touches.


@dataclass(frozen=True)
class ResourceChange:
    kind: str  # "create" | "update" | "delete"
    resource: PlannedResource
    changed_inputs: dict[str, tuple[Any, Any]]


def diff_plans(base: Plan, changed: Plan) -> list[ResourceChange]:
    old, new = base.by_urn(), changed.by_urn()
    changes: list[ResourceChange] = []
    for urn, res in new.items():
        if urn not in old:
            changes.append(ResourceChange("create", res, {}))
            continue
        before = old[urn]
        keys = sorted(set(before.inputs) | set(res.inputs))
        delta = {
            k: (before.inputs.get(k), res.inputs.get(k))
            for k in keys
            if before.inputs.get(k) != res.inputs.get(k)
            or before.fingerprints.get(k) != res.fingerprints.get(k)
        }
        if delta or before.protect != res.protect:
            if before.protect != res.protect:
                delta["(protect)"] = (before.protect, res.protect)
            changes.append(ResourceChange("update", res, delta))
    changes += [ResourceChange("delete", res, {}) for urn, res in old.items() if urn not in new]
    return changes
