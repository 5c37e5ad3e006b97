"""The OCI client against a real docker-registry: tags, digests, indexes, auth, failures."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path

import httpx
import pytest

from components.gates import oci
from components.imageref import parse_image_ref
from tests.pin.conftest import Registry
from tests.servers.registry import free_port, skopeo_inspect

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


@pytest.mark.parametrize("style", ["auth", "username-password", "https-key"])
def test_basic_auth_with_docker_config(
    basic_registry: Registry, no_ambient_credentials: Path, style: str
) -> None:
    user, password = basic_registry.credentials
    key = basic_registry.address
    if style == "auth":
        entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    elif style == "username-password":
        entry = {"username": user, "password": password}
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
    assert "requires authentication (Basic)" in message
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
        oci.RegistryAuthError, match=r"token service 127\.0\.0\.1 refused"
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
    assert "ConnectError" in message
    attempts = int(re.search(r"after (\d+) attempt", message).group(1))  # type: ignore[union-attr]
    assert attempts >= 3


def test_5xx_is_retried_then_succeeds(fast_retries: float) -> None:
    digest = "sha256:" + "a" * 64
    calls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.method)
        if len(calls) < 3:
            return httpx.Response(503, json={"errors": [{"code": "UNAVAILABLE"}]})
        return httpx.Response(200, headers={"Docker-Content-Digest": digest})

    resolved = oci.resolve(request("r.example", "v1"), transport=httpx.MockTransport(handler))

    assert resolved.digest == digest
    assert calls == ["HEAD", "HEAD", "HEAD"]


def test_persistent_5xx_gives_up_within_the_budget(fast_retries: float) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(502, json={"errors": [{"code": "BAD_GATEWAY", "message": "down"}]})

    started = time.monotonic()
    with pytest.raises(oci.RegistryError, match=r"kept failing after \d+ attempt.*HTTP 502"):
        oci.resolve(request("r.example", "v1"), transport=httpx.MockTransport(handler))
    assert time.monotonic() - started < fast_retries + 1.0


def test_missing_digest_header_falls_back_to_hashing_the_manifest() -> None:
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    seen: list[tuple[str, str]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append((req.method, req.headers["accept"]))
        return httpx.Response(200, content=body, headers={"Content-Type": oci.OCI_MANIFEST})

    resolved = oci.resolve(request("r.example", "v1"), transport=httpx.MockTransport(handler))

    assert resolved.digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert [m for m, _ in seen] == ["HEAD", "GET"]
    for media_type in oci.MANIFEST_MEDIA_TYPES:
        assert media_type in seen[0][1]


def test_digest_pin_whose_bytes_do_not_match_is_refused() -> None:
    pinned = "sha256:" + "b" * 64

    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{}", headers={"Docker-Content-Digest": pinned})

    with pytest.raises(oci.DigestMismatchError, match="whose sha256 is sha256:44136fa3"):
        oci.resolve(request("r.example", pinned), transport=httpx.MockTransport(handler))


def test_credentials_are_not_sent_to_a_plain_http_token_realm_over_https(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(oci.ENV_USERNAME, "u")
    monkeypatch.setenv(oci.ENV_PASSWORD, "very-secret")
    sent: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(str(req.url))
        challenge = 'Bearer realm="http://auth.example/token",service="s"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    secure = oci.ResolveRequest("r.example", "a/b", parse_image_ref("v1"), insecure=False)
    with pytest.raises(oci.RegistryAuthError, match="refusing to send") as caught:
        oci.resolve(secure, transport=httpx.MockTransport(handler))
    assert sent == ["https://r.example/v2/a/b/manifests/v1"]
    assert "very-secret" not in str(caught.value)


# ---------------------------------------------------------------------------- credentials
def test_credential_lookup_order_and_half_set_env(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    auth = base64.b64encode(b"cfg-user:cfg-pass").decode()
    config.write_text(json.dumps({"auths": {"https://reg.example:5000": {"auth": auth}}}))
    env = {"DOCKER_CONFIG": str(tmp_path)}

    from_config = oci.find_credentials("reg.example:5000", env).credentials
    assert from_config is not None
    assert (from_config.username, from_config.password) == ("cfg-user", "cfg-pass")
    assert "cfg-pass" not in repr(from_config)

    from_env = oci.find_credentials(
        "reg.example:5000", {**env, oci.ENV_USERNAME: "e", oci.ENV_PASSWORD: "p"}
    ).credentials
    assert from_env is not None
    assert from_env.username == "e"
    assert from_env.source.startswith("env ")

    nothing = oci.find_credentials("other.example", env)
    assert nothing.credentials is None
    assert any("no auths entry for other.example" in s for s in nothing.searched)

    with pytest.raises(oci.RegistryAuthError, match=f"{oci.ENV_PASSWORD} is empty"):
        oci.find_credentials("reg.example:5000", {**env, oci.ENV_USERNAME: "e"})


def test_www_authenticate_parsing() -> None:
    scheme, params = oci.parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:team/app:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:team/app:pull,push",
    }
    assert oci.parse_challenge('Basic realm="Registry Realm"') == (
        "basic",
        {"realm": "Registry Realm"},
    )
