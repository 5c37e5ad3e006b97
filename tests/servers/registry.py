"""A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1.

`start_registry` runs `docker-registry serve` on a free port with a temporary storage folder,
optionally behind htpasswd (Basic) auth or token (Bearer) auth served by `TokenIssuer`, a tiny
token service on 127.0.0.1 that signs real JWTs with an openssl-made key. `OciLayout` writes a
real OCI image layout (a busybox root filesystem layer, image configs, manifests, indexes with
correct sha256 digests) that `push` copies into the registry with skopeo, so the manifests the
registry serves are real ones, byte for byte the ones the layout holds.

Tools come from Debian packages; a missing one raises `MissingToolError` naming the package.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

TOOLS = {
    "docker-registry": "docker-registry",
    "skopeo": "skopeo",
    "htpasswd": "apache2-utils",
    "busybox": "busybox-static",
    "openssl": "openssl",
}
"""Binary -> the Debian package that provides it."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


class MissingToolError(RuntimeError):
    """A binary the registry tests need is not installed."""


def require_tool(binary: str) -> str:
    """The absolute path of `binary`, or MissingToolError naming the apt package to install."""
    path = shutil.which(binary)
    if path is None and binary == "busybox":
        path = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if Path(p).is_file()), None)
    if path is None:
        package = TOOLS.get(binary, binary)
        raise MissingToolError(
            f"`{binary}` is not installed; the registry tests need it: apt-get install -y {package}"
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(argv: list[str], *, what: str, timeout: float = 120) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {' '.join(argv[:3])} ...\n"
            f"{result.stderr.strip()[-2000:]}"
        )
    return result.stdout


# --------------------------------------------------------------------------------------------
# Token (Bearer) auth
# --------------------------------------------------------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenIssuer:
    """A token service as Docker's token auth spec describes: GET /token?service=&scope=.

    Users in `users` (checked with Basic auth) get the pull/push actions they ask for; an
    anonymous caller gets a token with no access, which the registry then refuses, like a
    private repository on a public registry.
    """

    SERVICE = "releasegate-test-registry"
    ISSUER = "releasegate-test-issuer"

    def __init__(self, workdir: Path, users: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.users = dict(users)
        self.key = workdir / "token.key"
        self.cert = workdir / "token.crt"
        self.requests: list[dict[str, Any]] = []
        openssl = require_tool("openssl")
        _run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=releasegate-test-token", "-keyout", str(self.key),
             "-out", str(self.cert)],
            what="openssl req (token signing key)",
        )  # fmt: skip
        der = _run_bytes([openssl, "x509", "-in", str(self.cert), "-outform", "DER"])
        self._x5c = base64.b64encode(der).decode("ascii")
        self._openssl = openssl
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self._x5c]}
        encoded = [_b64url(json.dumps(part).encode()) for part in (header, claims)]
        signing_input = ".".join(encoded)
        signature = subprocess.run(
            [self._openssl, "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(), capture_output=True, check=True, timeout=30,
        ).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    def issue(self, authorization: str | None, query: Mapping[str, list[str]]) -> tuple[int, str]:
        user = None
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode("utf-8", "replace")
            name, _, password = decoded.partition(":")
            if self.users.get(name) != password:
                return 401, json.dumps(
                    {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
                )
            user = name
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if user is not None and kind == "repository":
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": self.ISSUER, "sub": user or "", "aud": self.SERVICE, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access,
        }  # fmt: skip
        self.requests.append({"user": user, "query": dict(query)})
        return 200, json.dumps({"token": self.sign(claims), "expires_in": 300})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != "/token":
                    status, body = 404, "{}"
                else:
                    status, body = issuer.issue(
                        self.headers.get("Authorization"), parse_qs(url.query)
                    )
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _run_bytes(argv: list[str]) -> bytes:
    return subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------
@dataclass
class RegistryServer:
    """A running `docker-registry serve` on 127.0.0.1."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    users: dict[str, str] = field(default_factory=dict)
    token_issuer: TokenIssuer | None = None

    @property
    def address(self) -> str:
        """host:port, as a pin's `registry` input names it."""
        return f"127.0.0.1:{self.port}"

    @property
    def credentials(self) -> tuple[str, str] | None:
        return next(iter(self.users.items()), None)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.token_issuer is not None:
            self.token_issuer.stop()


def start_registry(
    workdir: Path,
    *,
    users: Mapping[str, str] | None = None,
    auth: str = "none",
    startup_timeout: float = 20.0,
) -> RegistryServer:
    """Start a registry storing into `workdir/storage`.

    `auth`: "none"; "htpasswd" (Basic, bcrypt entries for `users`); "token" (Bearer, tokens
    from a `TokenIssuer` that knows `users`).
    """
    registry_bin = require_tool("docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    users = dict(users or {})
    auth_config: dict[str, Any] = {}
    issuer: TokenIssuer | None = None
    if auth == "htpasswd":
        htpasswd = require_tool("htpasswd")
        lines = [
            _run([htpasswd, "-Bbn", user, password], what="htpasswd").strip()
            for user, password in users.items()
        ]
        (workdir / "htpasswd").write_text("\n".join(lines) + "\n")
        auth_config = {"htpasswd": {"realm": "releasegate-test", "path": str(workdir / "htpasswd")}}
    elif auth == "token":
        issuer = TokenIssuer(workdir, users)
        auth_config = {
            "token": {
                "realm": issuer.realm, "service": TokenIssuer.SERVICE,
                "issuer": TokenIssuer.ISSUER, "rootcertbundle": str(issuer.cert),
            }
        }  # fmt: skip
    elif auth != "none":
        raise ValueError(f"unknown auth mode {auth!r}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    for _attempt in range(3):  # the free port can be taken between probing and binding
        port = free_port()
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        }
        if auth_config:
            config["auth"] = auth_config
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        log_path = workdir / "registry.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [registry_bin, "serve", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        server = RegistryServer(port, workdir, process, log_path, users, issuer)
        if _wait_ready(server, startup_timeout):
            return server
        server.process.kill()
        server.process.wait(timeout=10)
        if "address already in use" not in server.log_tail():
            break
    if issuer is not None:
        issuer.stop()
    raise RuntimeError(
        f"docker-registry did not become ready on 127.0.0.1 within {startup_timeout}s; "
        f"log tail:\n{server.log_tail()}"
    )


def _wait_ready(server: RegistryServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            response = httpx.get(f"http://{server.address}/v2/", timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if response.status_code in (200, 401):
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------------------------
# Images: a real OCI image layout, pushed with skopeo
# --------------------------------------------------------------------------------------------
def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def _canonical(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


class OciLayout:
    """An OCI image layout folder holding busybox images, one per build label, and indexes.

    The layer is a reproducible gzip tar (`bin/busybox`, `bin/sh` -> busybox) written once;
    each image gets its own config (a `releasegate.test.build` label), so each tag has a
    distinct manifest digest while the layer blob is shared.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self.refs: list[dict[str, Any]] = []
        self.manifests: dict[str, bytes] = {}
        """manifest or index digest -> the exact bytes written."""
        self._layer: tuple[dict[str, Any], str] | None = None
        self._write_index()

    def _blob(self, media_type: str, data: bytes) -> dict[str, Any]:
        descriptor = _descriptor(media_type, data)
        path = self.blobs / descriptor["digest"].removeprefix("sha256:")
        if not path.exists():
            path.write_bytes(data)
        return descriptor

    def _busybox_layer(self) -> tuple[dict[str, Any], str]:
        if self._layer is None:
            busybox = Path(require_tool("busybox")).read_bytes()
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name in ("bin",):
                    info = tarfile.TarInfo(name)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                    tar.addfile(info)
                info = tarfile.TarInfo("bin/busybox")
                info.mode, info.mtime, info.size = 0o755, 0, len(busybox)
                tar.addfile(info, io.BytesIO(busybox))
                for applet in ("sh", "sleep", "true"):
                    link = tarfile.TarInfo(f"bin/{applet}")
                    link.type, link.linkname, link.mode, link.mtime = (
                        tarfile.SYMTYPE, "busybox", 0o777, 0,
                    )  # fmt: skip
                    tar.addfile(link)
            tar_bytes = raw.getvalue()
            diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
            compressed = io.BytesIO()
            with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=1) as gz:
                gz.write(tar_bytes)
            self._layer = (self._blob(OCI_LAYER_GZIP, compressed.getvalue()), diff_id)
        return self._layer

    def add_image(
        self, build: str, *, tag: str | None = None, os_name: str = "linux",
        architecture: str = "amd64",
    ) -> dict[str, Any]:  # fmt: skip
        """Write one image; returns its manifest descriptor (digest, size, platform)."""
        layer, diff_id = self._busybox_layer()
        config = {
            "created": "2024-01-01T00:00:00Z",
            "architecture": architecture,
            "os": os_name,
            "config": {
                "Entrypoint": ["/bin/sh"],
                "Labels": {"releasegate.test.build": build},
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "tests/servers"}],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self._blob(OCI_CONFIG, _canonical(config)),
            "layers": [layer],
        }
        data = _canonical(manifest)
        descriptor = self._blob(OCI_MANIFEST, data)
        self.manifests[descriptor["digest"]] = data
        descriptor["platform"] = {"architecture": architecture, "os": os_name}
        if tag is not None:
            self._tag(descriptor, tag)
        return descriptor

    def add_index(self, tag: str, images: list[dict[str, Any]]) -> dict[str, Any]:
        """Write a multi-platform image index over `images` and tag it."""
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": images}
        data = _canonical(index)
        descriptor = self._blob(OCI_INDEX, data)
        self.manifests[descriptor["digest"]] = data
        self._tag(descriptor, tag)
        return descriptor

    def _tag(self, descriptor: Mapping[str, Any], tag: str) -> None:
        entry = {k: descriptor[k] for k in ("mediaType", "digest", "size")}
        entry["annotations"] = {REF_NAME: tag}
        self.refs = [r for r in self.refs if r["annotations"][REF_NAME] != tag] + [entry]
        self._write_index()

    def _write_index(self) -> None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs}
        (self.root / "index.json").write_text(json.dumps(index, indent=2))


def push(
    layout: OciLayout,
    tag: str,
    destination: str,
    *,
    credentials: tuple[str, str] | None = None,
    all_platforms: bool = False,
) -> None:
    """`skopeo copy oci:LAYOUT:tag docker://destination` over plain http."""
    skopeo = require_tool("skopeo")
    argv = [skopeo, "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
    if all_platforms:
        argv.append("--all")
    if credentials is not None:
        argv += ["--dest-creds", ":".join(credentials)]
    argv += [f"oci:{layout.root}:{tag}", f"docker://{destination}"]
    _run(argv, what=f"skopeo copy to {destination}")


def skopeo_inspect(
    reference: str, *, credentials: tuple[str, str] | None = None, raw: bool = False
) -> Any:
    """`skopeo inspect [--raw] docker://reference`: the parsed JSON, or raw bytes with raw."""
    skopeo = require_tool("skopeo")
    argv = [skopeo, "--insecure-policy", "inspect", "--tls-verify=false"]
    if raw:
        argv.append("--raw")
    if credentials is not None:
        argv += ["--creds", ":".join(credentials)]
    argv.append(f"docker://{reference}")
    result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"skopeo inspect {reference} failed: {result.stderr.decode(errors='replace')}"
        )
    return result.stdout if raw else json.loads(result.stdout)
