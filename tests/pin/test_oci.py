"""The `oci` resolver against a real docker-registry: tags, digests, indexes, auth (env,
Docker config, a credential helper), failures; a scripted registry for 5xx and bad bytes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from components.gates import oci
from components.imageref import parse_image_ref
from tests.pin.conftest import Registry
from tests.pin.fake_registry import Answer, fake_registry
from tests.servers.registry import free_port, skopeo_inspect

MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
"""What a resolve must accept: without the index types a registry may answer a multi-arch tag
with one platform's manifest (or a converted one), whose digest is not the one runtimes pull."""

pytestmark = [pytest.mark.servers, pytest.mark.timeout(90)]


def request(
    registry: Registry | str, reference: str, *, repository: str = ""
) -> oci.ResolveRequest:
    address = registry if isinstance(registry, str) else registry.address
    repo = repository or (registry.repository if isinstance(registry, Registry) else "x/y")
    return oci.ResolveRequest(address, repo, parse_image_ref(reference), insecure=True)


# ---------------------------------------------------------------------------- resolution
def test_tag_resolves_to_the_digest_skopeo_reports(registry: Registry) -> None:
    resolved = oci.resolve(request(registry, "v1.0.0"))

    reported = skopeo_inspect(registry.ref("v1.0.0"))["Digest"]
    assert resolved.digest == reported
    assert resolved.digest == registry.images.digests["v1.0.0"]  # the bytes the layout wrote
    assert resolved.media_type == oci.OCI_MANIFEST
    # A different build under another tag resolves to a different digest.
    assert oci.resolve(request(registry, "v1.1.0")).digest == registry.images.digests["v1.1.0"]
    assert registry.images.digests["v1.1.0"] != resolved.digest


def test_digest_pin_is_verified_against_the_manifest_bytes(registry: Registry) -> None:
    digest = registry.images.digests["v1.1.0"]

    resolved = oci.resolve(request(registry, digest))

    assert resolved.digest == digest
    assert resolved.reference == digest


def test_multi_arch_tag_resolves_to_the_index_not_one_platform(registry: Registry) -> None:
    tag = registry.images.multi_tag
    raw = skopeo_inspect(registry.ref(tag), raw=True)

    resolved = oci.resolve(request(registry, tag))

    assert resolved.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert resolved.digest == registry.images.digests[tag]
    assert resolved.media_type == oci.OCI_INDEX
    assert resolved.digest not in registry.images.platform_digests
    # Each platform's manifest is itself pinnable by digest.
    arm = registry.images.platform_digests[1]
    assert oci.resolve(request(registry, arm)).digest == arm


def test_unknown_tag_names_the_image_the_status_and_the_fix(registry: Registry) -> None:
    with pytest.raises(oci.ManifestNotFoundError) as caught:
        oci.resolve(request(registry, "v9.9.9"))

    message = str(caught.value)
    assert f"{registry.address}/releasegate/api:v9.9.9" in message
    assert "HTTP 404" in message
    assert "MANIFEST_UNKNOWN" in message
    assert "push" in message


def test_unknown_digest_and_unknown_repository_are_not_found(registry: Registry) -> None:
    missing = "sha256:" + "0" * 64
    with pytest.raises(oci.ManifestNotFoundError, match=r"@sha256:0{64}.*HTTP 404"):
        oci.resolve(request(registry, missing))
    with pytest.raises(oci.ManifestNotFoundError, match=r"releasegate/nope:v1\.0\.0.*HTTP 404"):
        oci.resolve(request(registry, "v1.0.0", repository="releasegate/nope"))


# ---------------------------------------------------------------------------- Basic auth
def test_basic_auth_with_env_credentials(
    basic_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = basic_registry.credentials
    monkeypatch.setenv(oci.ENV_USERNAME, user)
    monkeypatch.setenv(oci.ENV_PASSWORD, password)

    resolved = oci.resolve(request(basic_registry, "v1.0.0"))

    assert (
        resolved.digest
        == skopeo_inspect(basic_registry.ref("v1.0.0"), credentials=basic_registry.credentials)[
            "Digest"
        ]
    )


@pytest.mark.parametrize("style", ["auth", "https-key"])
def test_basic_auth_with_docker_config(
    basic_registry: Registry, no_ambient_credentials: Path, style: str
) -> None:
    user, password = basic_registry.credentials
    key = basic_registry.address
    if style == "auth":
        entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    else:
        key = f"https://{basic_registry.address}/v2/"
        entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    config = {"auths": {"other.example:5000": {"auth": "eDp5"}, key: entry}}
    (no_ambient_credentials / "config.json").write_text(json.dumps(config))

    resolved = oci.resolve(request(basic_registry, "v1.1.0"))

    assert resolved.digest == basic_registry.images.digests["v1.1.0"]


def test_basic_auth_without_credentials_says_where_it_looked(
    basic_registry: Registry, no_ambient_credentials: Path
) -> None:
    with pytest.raises(oci.RegistryAuthError) as caught:
        oci.resolve(request(basic_registry, "v1.0.0"))

    message = str(caught.value)
    assert "requires authentication to read" in message
    assert "HTTP 401 UNAUTHORIZED" in message
    assert oci.ENV_USERNAME in message
    assert str(no_ambient_credentials / "config.json") in message
    assert f"docker login {basic_registry.address}" in message
    assert basic_registry.credentials[1] not in message


def test_refused_password_names_the_source_and_never_the_password(
    basic_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = basic_registry.credentials
    wrong = password + "-wrong"
    monkeypatch.setenv(oci.ENV_USERNAME, user)
    monkeypatch.setenv(oci.ENV_PASSWORD, wrong)

    with pytest.raises(oci.RegistryAuthError) as caught:
        oci.resolve(request(basic_registry, "v1.0.0"))

    message = str(caught.value)
    assert "HTTP 401" in message
    assert "UNAUTHORIZED" in message
    assert f"env {oci.ENV_USERNAME}" in message
    assert wrong not in message
    assert password not in message
    assert base64.b64encode(f"{user}:{wrong}".encode()).decode() not in message


# ---------------------------------------------------------------------------- Bearer auth
def test_bearer_token_flow_with_credentials(
    token_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = token_registry.credentials
    monkeypatch.setenv(oci.ENV_USERNAME, user)
    monkeypatch.setenv(oci.ENV_PASSWORD, password)
    issuer = token_registry.server.token_issuer
    assert issuer is not None
    before = len(issuer.requests)

    resolved = oci.resolve(request(token_registry, "v1.0.0"))

    assert resolved.digest == token_registry.images.digests["v1.0.0"]
    asked = issuer.requests[before:]
    assert [r["user"] for r in asked] == [user]
    assert asked[0]["query"]["scope"] == ["repository:releasegate/api:pull"]
    assert asked[0]["query"]["service"] == ["releasegate-test-registry"]


def test_bearer_anonymous_token_is_refused_clearly(token_registry: Registry) -> None:
    with pytest.raises(oci.RegistryAuthError) as caught:
        oci.resolve(request(token_registry, "v1.0.0"))

    message = str(caught.value)
    assert "HTTP 401" in message
    assert "anonymous" in message
    assert "no credentials were found" in message


def test_bearer_with_wrong_password_fails_at_the_token_service(
    token_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = token_registry.credentials
    monkeypatch.setenv(oci.ENV_USERNAME, user)
    monkeypatch.setenv(oci.ENV_PASSWORD, "not-" + password)

    with pytest.raises(
        oci.RegistryAuthError, match=r"token service of registry 127\.0\.0\.1:\d+ refused a token"
    ) as caught:
        oci.resolve(request(token_registry, "v1.0.0"))
    assert password not in str(caught.value)


# ---------------------------------------------------------------------------- failures
def test_registry_not_listening_fails_after_bounded_retries(fast_retries: float) -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()

    with pytest.raises(oci.RegistryUnreachableError) as caught:
        oci.resolve(request(address, "v1.0.0"))

    elapsed = time.monotonic() - started
    assert elapsed < fast_retries + 1.0
    message = str(caught.value)
    assert f"registry {address} is unreachable" in message
    assert "connection refused" in message
    attempts = int(re.search(r"after (\d+) attempt", message).group(1))  # type: ignore[union-attr]
    assert attempts >= 3


def test_5xx_is_retried_then_succeeds(fast_retries: float) -> None:
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'

    def answer(number: int) -> Answer:
        if number < 3:
            return Answer(503, b'{"errors":[{"code":"UNAVAILABLE"}]}')
        return Answer(200, body, {"Content-Type": oci.OCI_MANIFEST})

    with fake_registry(answer) as fake:
        resolved = oci.resolve(request(fake.address, "v1"))

    assert resolved.digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert [seen["method"] for seen in fake.seen] == ["GET", "GET", "GET"]


def test_persistent_5xx_gives_up_within_the_budget(fast_retries: float) -> None:
    def answer(_number: int) -> Answer:
        return Answer(502, b'{"errors":[{"code":"BAD_GATEWAY","message":"down"}]}')

    started = time.monotonic()
    with (
        fake_registry(answer) as fake,
        pytest.raises(oci.RegistryError, match=r"kept failing after \d+ attempt.*502"),
    ):
        oci.resolve(request(fake.address, "v1"))
    assert time.monotonic() - started < fast_retries + 1.0
    assert len(fake.seen) >= 3


def test_manifest_without_digest_header_resolves_to_the_hash_of_its_bytes() -> None:
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'

    with fake_registry(lambda _n: Answer(200, body, {"Content-Type": oci.OCI_MANIFEST})) as fake:
        resolved = oci.resolve(request(fake.address, "v1"))

    assert resolved.digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert resolved.media_type == oci.OCI_MANIFEST
    for media_type in MANIFEST_MEDIA_TYPES:
        assert media_type in fake.seen[0]["accept"]


def test_digest_pin_whose_bytes_do_not_match_is_refused() -> None:
    pinned = "sha256:" + "b" * 64

    def answer(_number: int) -> Answer:
        return Answer(200, b"{}", {"Docker-Content-Digest": pinned})

    with (
        fake_registry(answer) as fake,
        pytest.raises(oci.DigestMismatchError, match="whose sha256 is sha256:44136fa3"),
    ):
        oci.resolve(request(fake.address, pinned))


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextmanager
def _serve(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_credentials_are_not_sent_to_a_plain_http_token_realm_over_https(
    monkeypatch: pytest.MonkeyPatch, tls_files: tuple[Path, Path]
) -> None:
    monkeypatch.setenv(oci.ENV_USERNAME, "u")
    monkeypatch.setenv(oci.ENV_PASSWORD, "very-secret")
    realm_requests: list[str] = []

    class Realm(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            realm_requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "15")
            self.end_headers()
            self.wfile.write(b'{"token":"abc"}')

        def log_message(self, format: str, *args: Any) -> None:
            return

    realm_server = ThreadingHTTPServer(("127.0.0.1", 0), Realm)
    realm = f"http://127.0.0.1:{realm_server.server_address[1]}/token"

    class Registry(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="s"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    registry_server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    registry_server.socket = context.wrap_socket(registry_server.socket, server_side=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))  # trusted by httpx and skopeo

    with _serve(realm_server), _serve(registry_server) as address:
        secure = oci.ResolveRequest(address, "a/b", parse_image_ref("v1"), insecure=False)
        with pytest.raises(oci.RegistryAuthError, match="refusing to send") as caught:
            oci.resolve(secure)
    assert realm_requests == []
    assert "very-secret" not in str(caught.value)


# ---------------------------------------------------------------------------- credentials
def test_half_set_env_credentials_are_refused_before_any_request(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(oci.ENV_USERNAME, "e")

    with pytest.raises(oci.RegistryAuthError, match=f"{oci.ENV_PASSWORD} is empty"):
        oci.resolve(request(registry, "v1.0.0"))


def test_env_credentials_come_before_the_docker_config(
    basic_registry: Registry, no_ambient_credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = basic_registry.credentials
    wrong = base64.b64encode(f"{user}:not-{password}".encode()).decode()
    config = {"auths": {basic_registry.address: {"auth": wrong}}}
    (no_ambient_credentials / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv(oci.ENV_USERNAME, user)
    monkeypatch.setenv(oci.ENV_PASSWORD, password)

    resolved = oci.resolve(request(basic_registry, "v1.0.0"))

    assert resolved.digest == basic_registry.images.digests["v1.0.0"]


@pytest.fixture
def credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker-credential-test` helper on PATH that answers `get` from a JSON file
    (server URL -> [username, secret]) and logs each server it was asked for."""
    bindir = tmp_path / "helper-bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    store.write_text("{}")
    helper = bindir / "docker-credential-test"
    helper.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"store = json.load(open({str(store)!r}))\n"
        "server = sys.stdin.read().strip()\n"
        f"open({str(tmp_path / 'helper.log')!r}, 'a').write(sys.argv[1] + ' ' + server + '\\n')\n"
        "if sys.argv[1] != 'get' or server not in store:\n"
        "    print('credentials not found in native keychain'); sys.exit(1)\n"
        "user, secret = store[server]\n"
        "print(json.dumps({'ServerURL': server, 'Username': user, 'Secret': secret}))\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return store


def test_token_auth_with_a_docker_credential_helper(
    token_registry: Registry, no_ambient_credentials: Path, credential_helper: Path
) -> None:
    address = token_registry.address
    user, password = token_registry.credentials
    credential_helper.write_text(json.dumps({address: [user, password]}))
    config = {"credHelpers": {address: "test"}}
    (no_ambient_credentials / "config.json").write_text(json.dumps(config))
    issuer = token_registry.server.token_issuer
    assert issuer is not None
    before = len(issuer.requests)

    resolved = oci.resolve(request(token_registry, "v1.1.0"))

    assert resolved.digest == token_registry.images.digests["v1.1.0"]
    assert [r["user"] for r in issuer.requests[before:]] == [user]
    log = (credential_helper.parent / "helper.log").read_text()
    assert f"get {address}" in log


def test_a_credential_helper_with_a_wrong_secret_is_named_in_the_message(
    basic_registry: Registry, no_ambient_credentials: Path, credential_helper: Path
) -> None:
    address = basic_registry.address
    user, password = basic_registry.credentials
    credential_helper.write_text(json.dumps({address: [user, f"not-{password}"]}))
    (no_ambient_credentials / "config.json").write_text(
        json.dumps({"credHelpers": {address: "test"}})
    )

    with pytest.raises(oci.RegistryAuthError) as caught:
        oci.resolve(request(basic_registry, "v1.0.0"))

    message = str(caught.value)
    assert "HTTP 401 UNAUTHORIZED" in message
    assert f"credHelpers['{address}']" in message
    assert password not in message
