"""Fixtures for the engine tests: the real Pulumi CLI on a file backend, running releasegate's
own program (`define_stack`: real config, real release graph, real outputs) with the test
target of tests/engine/target.py against real local servers.

For the session: the CLI from `scripts/pulumi-cli.sh` (a failure, never a skip, when it cannot
be had), a project in a temporary folder (the repository's Pulumi.yaml with `main:` pointing
at tests/engine/project/program, a relative `virtualenv: venv` symlink to the repo's venv, the
repository on PYTHONPATH so the dynamic-provider process imports the test target), a
docker-registry holding the api images (v1.0.0, v1.1.0, v1.2.0) and the migrations images (m1,
m2), podman (pulling from that registry over plain HTTP) with the PostgreSQL test image plus one
database container with a snapshots volume, and the misbehaving HTTP app standing in for the
api service.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docker.conftest import ImageSet, client, images  # noqa: F401 (fixtures)
from tests.docker.test_snapshot import DATABASE, USER, start_postgres, volume_dir
from tests.servers.http_app import HttpApp, running_app
from tests.servers.podman import PodmanEngine, start_podman
from tests.servers.registry import (
    TOOLS,
    MissingToolError,
    OciLayout,
    RegistryServer,
    push,
    require_tool,
    start_registry,
)

REPO = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "project"
STACK = "engine"
REPOSITORY = "releasegate/api"
"""The api's default repository in a project named releasegate; the migrations image's too."""
API_TAGS = ("v1.0.0", "v1.1.0", "v1.2.0")
MIGRATION_TAGS = ("m1", "m2")
PASSPHRASE = "engine-test-passphrase"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""The key Pulumi marks a special value with (`_special_sig_key` in pulumi/runtime/rpc.py);
a secret in state carries it next to its `ciphertext` (or `plaintext` with --show-secrets)."""
SECRET_FILE = "/run/secrets/DATABASE_URL"


def migration_command(exit_code: int) -> list[str]:
    """The migration prints the database password (as libpq `key=value` and alone), as a
    careless migration tool would: it must never reach state, outputs or `up` output in clear.
    Shell builtins only: the test images hold busybox with sh, sleep and true; their entrypoint
    is /bin/sh, so the command is the shell's arguments."""
    script = (
        "echo migrating; "
        f"test -s {SECRET_FILE} && echo secret file present; "
        f"read -r URL < {SECRET_FILE}; PW=${{URL#*://*:}}; PW=${{PW%%@*}}; "
        'echo "connecting: host=db.internal user=app password=$PW dbname=app"; '
        'echo "database password is $PW"; '
        f"echo migration finished with {exit_code}; exit {exit_code}"
    )
    return ["-c", script]


def reveal(value: Any) -> Any:
    """A `stack export --show-secrets` value with every secret replaced by its plaintext."""
    if isinstance(value, dict):
        if SECRET_SIG in value and "plaintext" in value:
            return json.loads(value["plaintext"])
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


@dataclass(frozen=True)
class ApiRegistry:
    server: RegistryServer
    digests: dict[str, str]
    """tag -> manifest digest."""


@dataclass
class PulumiResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Project:
    """The copied project, its stack and the environment every `pulumi` call runs with."""

    root: Path
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    def pulumi(self, *args: str, timeout: float = 180, check: bool = True,
               env: Mapping[str, str] | None = None) -> PulumiResult:  # fmt: skip
        """`pulumi <args>` in the project folder; `env` adds to (or overrides) its environment
        for this call alone."""
        argv = ["pulumi", *args]
        began = time.monotonic()
        done = subprocess.run(
            argv, cwd=self.root, env={**self.env, **(env or {})}, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
        result = PulumiResult(
            argv, done.returncode, done.stdout, done.stderr, time.monotonic() - began
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`{' '.join(argv)}` exited {result.returncode} after {result.seconds:.1f}s\n"
                f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-4000:]}",
                pytrace=False,
            )
        return result

    def up(self, *, check: bool = True) -> PulumiResult:
        return self.pulumi(
            "up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK, check=check
        )

    def infra(self, *args: str, env: Mapping[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """`python -m infra <args> --cwd <project>` as an operator or CI runs it: the project's
        backend and passphrase, `env` on top, no terminal to answer a prompt."""
        return subprocess.run(
            [sys.executable, "-m", "infra", *args, "--cwd", str(self.root)],
            cwd=REPO, env={**self.env, **(env or {})}, capture_output=True, text=True,
            timeout=timeout, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def preview_json(self) -> list[dict[str, Any]]:
        result = self.pulumi("preview", "--json", "--non-interactive", "--stack", STACK)
        steps: list[dict[str, Any]] = json.loads(result.stdout).get("steps") or []
        return steps

    def set_config(self, key: str, value: str, *, secret: bool = False, path: bool = False) -> None:
        extra = (["--secret"] if secret else []) + (["--path"] if path else [])
        self.pulumi("config", "set", *extra, "--stack", STACK, key, value)

    def set_pin(self, name: str, value: str) -> None:
        """Re-pin like a user: `pulumi config set --path release.<name> <value>`."""
        self.set_config(f"release.{name}", value, path=True)

    def pins(self) -> dict[str, str]:
        result = self.pulumi("config", "get", "release", "--json", "--stack", STACK)
        release: dict[str, str] = json.loads(json.loads(result.stdout)["value"])
        return release

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """Stack outputs; secret ones read "[secret]" unless `show_secrets`."""
        extra = ["--show-secrets"] if show_secrets else []
        result = self.pulumi("stack", "output", "--json", *extra, "--stack", STACK)
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def state(self, *, show_secrets: bool = False) -> dict[str, dict[str, Any]]:
        """resource name -> its state entry (`inputs`, `outputs`, ...) from `stack export`;
        with `show_secrets`, secrets revealed."""
        extra = ["--show-secrets"] if show_secrets else []
        result = self.pulumi("stack", "export", *extra, "--stack", STACK)
        resources = json.loads(result.stdout)["deployment"].get("resources") or []
        by_name = {r["urn"].rsplit("::", 1)[-1]: r for r in resources}
        revealed: dict[str, dict[str, Any]] = reveal(by_name) if show_secrets else by_name
        return revealed

    def resource_outputs(self, name: str, *, show_secrets: bool = False) -> dict[str, Any]:
        outputs: dict[str, Any] = self.state(show_secrets=show_secrets)[name]["outputs"]
        return outputs


@dataclass
class NamedStack:
    """One more stack of an engine project, by name, for tests that release their own stack
    beside the shared one: every `pulumi` call non-interactive on that stack, with `env` (the
    deploy's actor, say) and then a call's own `env` on top of the project's environment."""

    project: Project
    name: str
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def stack_file(self) -> Path:
        return self.project.root / f"Pulumi.{self.name}.yaml"

    def pulumi(self, *args: str, env: Mapping[str, str] | None = None,
               check: bool = True) -> PulumiResult:  # fmt: skip
        return self.project.pulumi(*args, "--non-interactive", "--stack", self.name,
                                   env={**self.env, **(env or {})}, check=check)  # fmt: skip

    def init(self, config: Mapping[str, Any] | None = None) -> None:
        """`pulumi stack init`; with `config`, over a stack file written from it first."""
        if config is not None:
            self.stack_file.write_text(json.dumps({"config": config}, indent=2))
        self.pulumi("stack", "init")

    def up(self, *, env: Mapping[str, str] | None = None, check: bool = True) -> PulumiResult:
        return self.pulumi("up", "--yes", "--skip-preview", env=env, check=check)

    def set(self, key: str, value: str) -> None:
        """`pulumi config set --path <key> <value>`, as a user re-pins or configures."""
        self.pulumi("config", "set", "--path", key, value)

    def outputs(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.pulumi("stack", "output", "--json").stdout)
        return data

    def ledger(self) -> dict[str, Any]:
        ledger: dict[str, Any] = self.outputs()["ledger"]
        return ledger

    def resources(self) -> dict[str, dict[str, Any]]:
        """resource name -> its state entry, from `pulumi stack export` (the checkpoint)."""
        exported = json.loads(self.pulumi("stack", "export").stdout)
        return {r["urn"].rsplit("::", 1)[-1]: r for r in exported["deployment"]["resources"]}

    def infra(self, *args: str, env: Mapping[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """`python -m infra <args> --stack <name>` (Project.infra): the project's environment
        and `env`, not the stack's own `env`, which goes with its `pulumi` calls."""
        return self.project.infra(*args, "--stack", self.name, env=env, timeout=timeout)

    def destroy(self) -> None:
        """Teardown: removes what the stack runs; a failure here never fails a test."""
        self.pulumi("destroy", "--yes", "--skip-preview", check=False)


def step_ops(steps: list[dict[str, Any]]) -> dict[str, str]:
    """resource name -> the preview's operation, for our own resources (not the stack)."""
    ops: dict[str, str] = {}
    for step in steps:
        urn = str(step.get("urn", ""))
        if "pulumi:pulumi:Stack" in urn or "pulumi:providers:" in urn:
            continue
        ops[urn.rsplit("::", 1)[-1]] = str(step.get("op"))
    return ops


@pytest.fixture(scope="session")
def pulumi_bin() -> str:
    """The directory of a working `pulumi`; the test fails (never skips) without one."""
    done = subprocess.run(
        ["bash", "scripts/pulumi-cli.sh"], cwd=REPO, capture_output=True, text=True,
        timeout=1800, check=False,
    )  # fmt: skip
    bindir = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not (Path(bindir) / "pulumi").is_file():
        pytest.fail(
            f"scripts/pulumi-cli.sh could not provide the Pulumi CLI (exit {done.returncode}):\n"
            f"{done.stderr[-4000:]}",
            pytrace=False,
        )
    return bindir


@pytest.fixture(scope="session")
def api_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiRegistry]:
    """An anonymous docker-registry holding one busybox-based image per api and migrations tag
    (each a distinct digest)."""
    try:
        for binary in TOOLS:
            require_tool(binary)
    except MissingToolError as exc:
        pytest.fail(str(exc), pytrace=False)
    layout = OciLayout(tmp_path_factory.mktemp("engine-oci"))
    tags = (*API_TAGS, *MIGRATION_TAGS)
    digests = {tag: layout.add_image(f"api-{tag}", tag=tag)["digest"] for tag in tags}
    server = start_registry(tmp_path_factory.mktemp("engine-registry"), auth="none")
    try:
        for tag in tags:
            push(layout, tag, f"{server.address}/{REPOSITORY}:{tag}")
        yield ApiRegistry(server, digests)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def engine(api_registry: ApiRegistry) -> Iterator[PodmanEngine]:
    """Like tests/docker's engine, and pulling from the test registry over plain HTTP (as a
    Docker engine does for a localhost registry)."""
    workdir = Path(tempfile.mkdtemp(prefix="rg-podman-", dir="/tmp"))
    started = start_podman(
        workdir,
        name_prefix=f"rgtest-{secrets.token_hex(3)}-",
        insecure_registries=(api_registry.server.address,),
    )
    try:
        yield started
    finally:
        try:
            started.cleanup()
        finally:
            started.stop()
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Database:
    container: Any
    volume: str
    snapshots_dir: Path


@pytest.fixture(scope="session")
def database(engine: PodmanEngine, client: Any, images: ImageSet) -> Iterator[Database]:  # noqa: F811
    """The PostgreSQL test container with a snapshots volume at /snapshots."""
    volume = f"{engine.name_prefix}engine-snapshots"
    client.volumes.create(volume)
    container = start_postgres(client, images.postgres, f"{engine.name_prefix}engine-db", volume)
    try:
        yield Database(container, volume, volume_dir(client, volume))
    finally:
        container.remove(force=True)


@pytest.fixture(scope="session")
def app() -> Iterator[HttpApp]:
    """The api service: serves v1.0.0 until a test rolls it out to another version."""
    with running_app("v1.0.0") as running:
        yield running


@dataclass(frozen=True)
class Servers:
    """What every stack of the engine project runs against, for the session: the CLI's
    directory, the registry, podman, the database container and the api's HTTP app."""

    pulumi_bin: str
    registry: ApiRegistry
    engine: PodmanEngine
    database: Database
    app: HttpApp

    def project(self, work: Path) -> Project:
        """The engine project in `work/project`: releasegate's Pulumi.yaml (its typed config)
        running tests/engine/project/program, a relative `venv` link to the repository's, and
        a file backend of its own under `work/state`."""
        root = work / "project"
        shutil.copytree(PROJECT / "program", root / "program",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        project_file = (REPO / "Pulumi.yaml").read_text()
        assert "\nmain: infra/\n" in project_file
        (root / "Pulumi.yaml").write_text(
            project_file.replace("\nmain: infra/\n", "\nmain: program/\n")
        )
        (root / "venv").symlink_to(os.path.relpath(REPO / "venv", root))
        return Project(root, _environment(self.pulumi_bin, work / "state"))

    def config(self, name_prefix: str) -> dict[str, Any]:
        """A stack's config on the engine target: the api at v1.0.0 behind its gate, the m1
        migration, these servers, and `name_prefix` for its containers (each stack its own)."""
        return {
            "releasegate:cloud": "local",
            "releasegate:release": {"api": "v1.0.0", "migrations": "m1"},
            "releasegate:services": {
                "api": {"port": 8000, "healthPath": "/health/ready", "secrets": ["DATABASE_URL"]},
            },
            "releasegate:migration": {"command": migration_command(0), "timeoutSeconds": 60},
            "releasegate:database": {"name": DATABASE, "username": USER},
            "releasegate:healthGate": {
                "requestTimeoutSeconds": 2, "intervalSeconds": 0.2, "successThreshold": 2,
                "failureThreshold": 3, "startupSeconds": 1, "deadlineSeconds": 10,
            },
            "releasegate:local": {"dockerHost": self.engine.base_url},
            "releasegate:ledgerHistory": 5,
            "engine:registry": self.registry.server.address,
            "engine:appUrl": self.app.url,
            "engine:dbContainer": self.database.container.name,
            "engine:namePrefix": name_prefix,
        }  # fmt: skip


@pytest.fixture(scope="session")
def servers(
    pulumi_bin: str,
    api_registry: ApiRegistry,
    engine: PodmanEngine,
    database: Database,
    app: HttpApp,
) -> Servers:
    return Servers(pulumi_bin, api_registry, engine, database, app)


@dataclass
class Stack:
    project: Project
    app: HttpApp
    registry: ApiRegistry
    engine: PodmanEngine
    database: Database
    images: ImageSet
    name_prefix: str
    _secret: str | None = None

    @property
    def secret(self) -> str:
        """The database password the stack generated (GeneratedSecrets), read from state."""
        if self._secret is None:
            outputs = self.project.resource_outputs("secrets-database-password", show_secrets=True)
            self._secret = str(outputs["result"])
        return self._secret

    @property
    def database_url(self) -> str:
        return f"postgresql://{USER}:{self.secret}@{self.database.container.name}:5432/{DATABASE}"

    def migration_creates(self, since: float) -> list[str]:
        """Names of this stack's migration containers podman created since `since` (epoch
        seconds). Podman's event log is the machine's: another test session's runs are in it
        too, so only names with this stack's prefix count."""
        output = self.engine.podman(
            "events", "--since", str(int(since)), "--until", str(int(time.time()) + 1),
            "--filter", "event=create", "--filter", "label=releasegate.role=migration",
            "--format", "{{.Name}}",
        )  # fmt: skip
        return [n for n in output.split() if n.startswith(f"{self.name_prefix}-migrate-")]


def _environment(bindir: str, state: Path) -> dict[str, str]:
    docker_config = state / "docker-config"
    docker_config.mkdir(parents=True, exist_ok=True)
    (state / "backend").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env.update({
        "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PULUMI_BACKEND_URL": f"file://{state / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_HOME": str(state / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PULUMI_TELEMETRY_DISABLED": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        # The program and the dynamic-provider process import tests.engine.target.
        "PYTHONPATH": str(REPO),
        # No ambient registry credentials reach the pin's resolver.
        "DOCKER_CONFIG": str(docker_config),
        "NO_COLOR": "1",
    })  # fmt: skip
    for name in ("RELEASEGATE_REGISTRY_USERNAME", "RELEASEGATE_REGISTRY_PASSWORD"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def stack(
    servers: Servers,
    images: ImageSet,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The project in a temporary folder, its stack initialised and configured: releasegate's
    Pulumi.yaml (its typed config) running tests/engine/project/program."""
    project = servers.project(tmp_path_factory.mktemp("engine"))
    name_prefix = f"{servers.engine.name_prefix}engine"
    config = servers.config(name_prefix)
    (project.root / f"Pulumi.{STACK}.yaml").write_text(json.dumps({"config": config}, indent=2))
    project.pulumi("stack", "init", STACK, "--non-interactive")
    yield Stack(project, servers.app, servers.registry, servers.engine, servers.database, images,
                name_prefix)  # fmt: skip
    project.pulumi("destroy", "--yes", "--non-interactive", "--stack", STACK, check=False)


def stack_beside(stack: Stack, name: str, suffix: str,
                 env: Mapping[str, str] | None = None) -> NamedStack:  # fmt: skip
    """Stack `name` in the shared stack's project, initialised: the shared stack's config
    (its secrets left out: the new stack generates its own) with the name prefix plus `suffix`
    (its own service container) and the api at v1.0.0 with m1, whatever the shared stack pins
    now; `env` goes with each of its `pulumi` calls."""
    document = yaml.safe_load((stack.project.root / f"Pulumi.{STACK}.yaml").read_text())
    config = {k: v for k, v in document["config"].items()
              if not isinstance(v, dict) or "secure" not in v}  # fmt: skip
    config["engine:namePrefix"] = f"{stack.name_prefix}{suffix}"
    config["releasegate:release"] = {"api": "v1.0.0", "migrations": "m1"}
    beside = NamedStack(stack.project, name, dict(env or {}))
    beside.init(config)
    return beside
