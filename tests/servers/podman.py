"""A Docker-API engine for tests: `podman system service` on a temporary unix socket.

What the test machines need, found on them: the `runc` runtime (`crun` fails under their
hybrid cgroup mode), a containers.conf (`CONTAINERS_CONF` below, passed in the environment
variable of that name) that lowers the default ulimits to nofile 1024 and nproc 1000 (raising
RLIMIT_NPROC is refused there), and no registry pulls (the images are made locally, as below).
Test images are made from root filesystems and `podman import`ed:

- a busybox image (`busybox_image`): the static busybox from `busybox-static` with every
  applet linked into /usr/bin; `marker=` variants differ by one file, hence by digest;
- a PostgreSQL image (`postgres_image`): the host's installed PostgreSQL server and client
  binaries, their extension libraries and share folder, every shared library `ldd` lists for
  them, zoneinfo and busybox, plus `docker-entrypoint.sh`, a small version of the official
  image's entrypoint (initialises a cluster on first start honouring POSTGRES_USER,
  POSTGRES_DB, POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE, runs /docker-entrypoint-initdb.d/*
  as the `postgres` user against a socket-only temporary server, then execs `postgres`).

Images are tagged with a hash of what went into them (binaries, entrypoint, recipe version)
and live in podman's own storage, so later runs on the same machine reuse them; a file lock in
the cache folder ($RELEASEGATE_TEST_CACHE, default ~/.cache/releasegate-tests) keeps
concurrent test runs from building the same image twice.

A missing binary raises `MissingToolError` naming the Debian package to install.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

TOOLS = {
    "podman": "podman",
    "runc": "runc",
    "busybox": "busybox-static",
    "ldd": "libc-bin",
    "postgres": "postgresql",
    "pg_config": "postgresql",
}
"""Binary -> the Debian package that provides it."""

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
"""

RECIPE_VERSION = "3"
"""Bump to rebuild every cached test image after changing how images are made."""

IMAGE_REPOSITORY = "localhost/releasegate-test"
POSTGRES_UID = 999


class MissingToolError(RuntimeError):
    """A binary the podman tests need is not installed."""


def require_tool(binary: str) -> str:
    """The absolute path of `binary`, or MissingToolError naming the apt package to install."""
    path = shutil.which(binary)
    if path is None and binary == "busybox":
        path = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if Path(p).is_file()), None)
    if path is None and binary == "runc":
        path = next((p for p in ("/usr/sbin/runc", "/usr/bin/runc") if Path(p).is_file()), None)
    if path is None:
        package = TOOLS.get(binary, binary)
        raise MissingToolError(
            f"`{binary}` is not installed; the Docker-API tests need it: "
            f"apt-get install -y {package}"
        )
    return path


def postgres_bindir() -> Path:
    """The installed PostgreSQL server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise MissingToolError(
            "no PostgreSQL server under /usr/lib/postgresql/*/bin; the snapshot tests need it: "
            "apt-get install -y postgresql"
        )
    return candidates[-1].parent


def _run(
    argv: list[str], *, what: str, env: dict[str, str] | None = None, timeout: float = 300
) -> str:
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {' '.join(argv[:4])} ...\n"
            f"{(result.stderr or result.stdout).strip()[-3000:]}"
        )
    return result.stdout


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------
@dataclass
class PodmanEngine:
    """A running `podman system service`; `base_url` is what `docker_host` settings take."""

    workdir: Path
    socket_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    podman_bin: str
    name_prefix: str
    """Containers, volumes and networks the tests create start with this; teardown removes them."""
    _clients: list[Any] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket_path}"

    def client(self, timeout: int = 60) -> Any:
        """A new docker.DockerClient on this engine (closed at teardown)."""
        client = docker.DockerClient(base_url=self.base_url, timeout=timeout)
        self._clients.append(client)
        return client

    def podman(self, *args: str, timeout: float = 120) -> str:
        """Run the podman CLI with the same containers.conf (same storage as the service)."""
        return _run(
            [self.podman_bin, *args], what=f"podman {args[0]}", env=self.env, timeout=timeout
        )

    def podman_result(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the podman CLI and return its result whatever the exit code."""
        return subprocess.run(
            [self.podman_bin, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cleanup(self) -> None:
        """Remove every container, volume and network whose name starts with `name_prefix`."""
        client = self.client()
        # The low-level list (no per-container inspect, unlike `containers.list`): a container
        # another test removes between the list and an inspect made podman answer 404 or 500.
        for summary in client.api.containers(all=True):
            names = [str(n).lstrip("/") for n in summary.get("Names") or []]
            if any(n.startswith(self.name_prefix) for n in names):
                with contextlib.suppress(docker.errors.DockerException):
                    client.api.remove_container(summary["Id"], force=True)
        for volume in client.volumes.list():
            if volume.name.startswith(self.name_prefix):
                with contextlib.suppress(docker.errors.DockerException):
                    volume.remove(force=True)
        for network in client.networks.list():
            if network.name.startswith(self.name_prefix):
                with contextlib.suppress(docker.errors.DockerException):
                    network.remove()

    def stop(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_podman(
    workdir: Path,
    name_prefix: str,
    ready_timeout: float = 30,
    insecure_registries: tuple[str, ...] = (),
) -> PodmanEngine:
    """Start `podman system service --time=0` on `<workdir>/podman.sock` and wait for it.

    `insecure_registries` (host:port) are pulled from over plain HTTP: a registries.conf naming
    them `insecure = true` (containers-registries.conf(5)) passed as CONTAINERS_REGISTRIES_CONF."""
    podman_bin = require_tool("podman")
    require_tool("runc")
    conf = workdir / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    if insecure_registries:
        registries = workdir / "registries.conf"
        registries.write_text("".join(
            f'[[registry]]\nlocation = "{host}"\ninsecure = true\n' for host in insecure_registries
        ))  # fmt: skip
        env["CONTAINERS_REGISTRIES_CONF"] = str(registries)
    socket_path = workdir / "podman.sock"
    log_path = workdir / "podman-service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [podman_bin, "system", "service", "--time=0", f"unix://{socket_path}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    engine = PodmanEngine(
        workdir=workdir,
        socket_path=socket_path,
        env=env,
        process=process,
        log_path=log_path,
        podman_bin=podman_bin,
        name_prefix=name_prefix,
    )
    deadline = time.monotonic() + ready_timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if socket_path.exists():
            try:
                client = docker.DockerClient(base_url=engine.base_url, timeout=5)
                try:
                    client.ping()
                    return engine
                finally:
                    client.close()
            except docker.errors.DockerException as exc:
                last_error = exc
        time.sleep(0.1)
    engine.stop()
    raise RuntimeError(
        f"podman system service did not answer on {socket_path} within {ready_timeout}s "
        f"(exit {process.poll()}, last error {last_error}):\n{log_path.read_text()[-3000:]}"
    )


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    path = Path(os.environ.get("RELEASEGATE_TEST_CACHE", Path.home() / ".cache/releasegate-tests"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    with (cache_dir() / "images.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _image_exists(engine: PodmanEngine, name: str) -> bool:
    result = subprocess.run(
        [engine.podman_bin, "image", "exists", name],
        env=engine.env,
        check=False,
        capture_output=True,
        timeout=60,
    )
    return result.returncode == 0


class RootFs:
    """A root filesystem folder that mirrors the host's merged-/usr symlinks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_symlink():
                target = os.readlink(host).lstrip("/")  # keep every link inside the rootfs
                (root / target).mkdir(parents=True, exist_ok=True)
                (root / top).symlink_to(target)
        for folder in ("usr/bin", "etc", "tmp", "run", "var", "root", "proc", "sys", "dev"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "var/run").symlink_to("../run")

    def path(self, absolute: str | Path) -> Path:
        return self.root / str(absolute).lstrip("/")

    def copy_file(self, source: str | Path, dest: str | Path | None = None) -> Path:
        """Copy `source`'s content (following links) to the same (or `dest`) path."""
        target = self.path(dest if dest is not None else source)
        if target.exists() or target.is_symlink():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(source), target)
        return target

    def copy_tree(self, source: Path, skip: tuple[str, ...] = ()) -> list[Path]:
        copied = []
        for path in sorted(source.rglob("*")):
            if any(part in skip for part in path.relative_to(source).parts) or path.is_dir():
                continue
            if any(path.name.startswith(prefix) for prefix in skip):
                continue
            self.copy_file(path)
            copied.append(path)
        return copied

    def install_busybox(self) -> None:
        busybox = require_tool("busybox")
        self.copy_file(busybox, "/usr/bin/busybox")
        applets = _run([busybox, "--list"], what="busybox --list").split()
        for applet in applets:
            link = self.path(f"/usr/bin/{applet}")
            if applet != "busybox" and not (link.exists() or link.is_symlink()):
                link.symlink_to("busybox")

    def write(self, absolute: str, text: str, mode: int = 0o644) -> None:
        target = self.path(absolute)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def tar(self, out: Path, owners: dict[str, int] | None = None) -> None:
        """Tar the folder with root ownership except `owners` (rootfs path prefix -> uid)."""
        owners = owners or {}

        def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
            name = "/" + info.name.removeprefix("./").lstrip("/")
            uid = next((u for prefix, u in owners.items() if name.startswith(prefix)), 0)
            info.uid = info.gid = uid
            info.uname = info.gname = ""
            return info

        with tarfile.open(out, "w") as archive:
            for entry in sorted(self.root.iterdir()):
                archive.add(entry, arcname=entry.name, filter=owner)


def _import(engine: PodmanEngine, tar: Path, name: str, changes: list[str]) -> None:
    argv = ["import"]
    for change in changes:
        argv += ["--change", change]
    engine.podman(*argv, str(tar), name, timeout=600)


def busybox_image(engine: PodmanEngine, marker: str = "") -> str:
    """`localhost/releasegate-test/busybox:<hash>`; a `marker` gives a distinct image/digest."""
    busybox = Path(require_tool("busybox"))
    key = hashlib.sha256(f"{RECIPE_VERSION}|{_sha256_file(busybox)}|{marker}".encode()).hexdigest()[
        :12
    ]
    name = f"{IMAGE_REPOSITORY}/busybox:{f'{marker}-' if marker else ''}{key}"
    with _build_lock():
        if _image_exists(engine, name):
            return name
        with tempfile.TemporaryDirectory(prefix="rg-bb-") as tmp:
            rootfs = RootFs(Path(tmp) / "root")
            rootfs.install_busybox()
            rootfs.write(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
            )
            rootfs.write("/etc/group", "root:x:0:\nnogroup:x:65534:\n")
            rootfs.path("/tmp").chmod(0o1777)
            if marker:
                rootfs.write("/etc/releasegate-marker", marker + "\n")
            tar = Path(tmp) / "root.tar"
            rootfs.tar(tar)
            _import(
                engine,
                tar,
                name,
                [
                    'CMD ["sh"]',
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                ],
            )
    return name


POSTGRES_ENTRYPOINT = r"""#!/bin/sh
# docker-entrypoint.sh for releasegate's test PostgreSQL image: a small version of the
# official postgres image's entrypoint (same environment variables, same init flow).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "${1:-}" = "postgres" ] && [ "$(id -u)" = "0" ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 2775 /var/run/postgresql
    # Drop root like the official image's gosu: re-run this script as postgres.
    exec su -p -s /bin/sh postgres -c 'exec "$0" "$@"' "$0" "$@"
fi

if [ "${1:-}" = "postgres" ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_USER:=postgres}"
    : "${POSTGRES_DB:=$POSTGRES_USER}"
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
    fi
    pwfile=""
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
        pwfile="$(mktemp)"
        printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
        initdb -D "$PGDATA" -U "$POSTGRES_USER" -E UTF8 --locale=C \
            --auth-local=trust --auth-host="$auth" --pwfile="$pwfile"
        rm -f "$pwfile"
    else
        auth="${POSTGRES_HOST_AUTH_METHOD:-trust}"
        initdb -D "$PGDATA" -U "$POSTGRES_USER" -E UTF8 --locale=C \
            --auth-local=trust --auth-host="$auth"
    fi
    printf 'host all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != "postgres" ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc -U "$POSTGRES_USER" -d postgres -q \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then echo "$0: running $f"; "$f"
                else echo "$0: sourcing $f"; . "$f"; fi ;;
            *.sql)
                echo "$0: running $f"
                psql -v ON_ERROR_STOP=1 --no-psqlrc -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" ;;
            *) if [ -e "$f" ]; then echo "$0: ignoring $f"; fi ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
"""


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def _ldd_paths(ldd: str, binary: Path) -> set[str]:
    result = subprocess.run(
        [ldd, str(binary)], capture_output=True, text=True, check=False, timeout=60
    )
    paths: set[str] = set()
    for line in result.stdout.splitlines():
        parts = line.strip().split()
        if "=>" in parts:
            target = parts[parts.index("=>") + 1]
            if target.startswith("/"):
                paths.add(target)
        elif parts and parts[0].startswith("/"):
            paths.add(parts[0])  # the dynamic loader
    return paths


def postgres_image(engine: PodmanEngine) -> str:
    """`localhost/releasegate-test/postgres:<major>-<hash>`, built from the host's PostgreSQL."""
    bindir = postgres_bindir()
    major = bindir.parent.name
    busybox = Path(require_tool("busybox"))
    ldd = require_tool("ldd")
    key = hashlib.sha256(
        "|".join(
            [
                RECIPE_VERSION,
                POSTGRES_ENTRYPOINT,
                _sha256_file(bindir / "postgres"),
                _sha256_file(bindir / "pg_dump"),
                _sha256_file(busybox),
            ]
        ).encode()
    ).hexdigest()[:12]
    name = f"{IMAGE_REPOSITORY}/postgres:{major}-{key}"
    with _build_lock():
        if _image_exists(engine, name):
            return name
        sharedir = Path(f"/usr/share/postgresql/{major}")
        pkglibdir = bindir.parent / "lib"
        with tempfile.TemporaryDirectory(prefix="rg-pg-") as tmp:
            rootfs = RootFs(Path(tmp) / "root")
            rootfs.install_busybox()
            # llvmjit pulls in libLLVM (100+ MB); without it PostgreSQL simply runs without JIT.
            elves = [p for p in rootfs.copy_tree(bindir) if _is_elf(p)]
            elves += [
                p for p in rootfs.copy_tree(pkglibdir, skip=("bitcode", "llvmjit")) if _is_elf(p)
            ]
            rootfs.copy_tree(sharedir)
            if Path("/usr/share/zoneinfo").is_dir():
                rootfs.copy_tree(Path("/usr/share/zoneinfo"))
            libraries: set[str] = set()
            for elf in elves:
                libraries |= _ldd_paths(ldd, elf)
            for library in sorted(libraries):
                rootfs.copy_file(library)
            rootfs.write(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\n"
                f"postgres:x:{POSTGRES_UID}:{POSTGRES_UID}:PostgreSQL:"
                "/var/lib/postgresql:/bin/sh\n",
            )
            rootfs.write("/etc/group", f"root:x:0:\npostgres:x:{POSTGRES_UID}:\n")
            rootfs.write("/usr/local/bin/docker-entrypoint.sh", POSTGRES_ENTRYPOINT, 0o755)
            rootfs.path("/docker-entrypoint.sh").symlink_to("usr/local/bin/docker-entrypoint.sh")
            for folder in (
                "/docker-entrypoint-initdb.d",
                "/var/lib/postgresql/data",
                "/run/postgresql",
                "/snapshots",
            ):
                rootfs.path(folder).mkdir(parents=True, exist_ok=True)
            rootfs.path("/tmp").chmod(0o1777)
            tar = Path(tmp) / "root.tar"
            rootfs.tar(
                tar, owners={"/var/lib/postgresql": POSTGRES_UID, "/run/postgresql": POSTGRES_UID}
            )
            path = (
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:"
                f"/usr/lib/postgresql/{major}/bin"
            )
            _import(
                engine,
                tar,
                name,
                [
                    'ENTRYPOINT ["docker-entrypoint.sh"]',
                    'CMD ["postgres"]',
                    f"ENV PATH={path}",
                    "ENV PGDATA=/var/lib/postgresql/data",
                    "ENV TZ=Etc/UTC",
                    "STOPSIGNAL SIGINT",
                    "EXPOSE 5432",
                ],
            )
    return name


def digest_ref(engine: PodmanEngine, image: str) -> str:
    """`repository@sha256:...` of a local image: the pinned form the providers take."""
    client = engine.client()
    repo_digests: list[str] = client.images.get(image).attrs.get("RepoDigests") or []
    repository = image.rsplit(":", 1)[0]
    for ref in repo_digests:
        if ref.split("@", 1)[0] == repository:
            return ref
    if repo_digests:
        return repo_digests[0]
    raise RuntimeError(f"{image} has no RepoDigests: {client.images.get(image).attrs}")
