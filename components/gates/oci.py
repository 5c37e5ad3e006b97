"""A small OCI distribution API client: resolve a tag or a digest to the manifest digest.

The image pin turns what the stack config says (`v1.4.2` or `sha256:...`) into the one digest
every service runs, so a release and its rollback name exactly one build. This module only
speaks the read side of the distribution API (`/v2/<name>/manifests/<reference>`) with the
token and basic auth flows registries use; it holds no state between calls and reads
credentials only when a registry asks for them.

Tunables (`RETRY_BUDGET_SECONDS` and friends) are read at call time so tests can shrink them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from components.gates.redact import redact
from components.imageref import DIGEST_PATTERN, ImageRef

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2)
"""Sent as Accept: without the index types a registry may answer a multi-arch tag with one
platform's manifest (or a converted one), whose digest is not the one runtimes pull."""

RETRY_BUDGET_SECONDS = 30.0
"""Total time one resolve may spend retrying connection errors, 429 and 5xx answers."""
REQUEST_TIMEOUT_SECONDS = 10.0
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 4.0

ENV_USERNAME = "RELEASEGATE_REGISTRY_USERNAME"
ENV_PASSWORD = "RELEASEGATE_REGISTRY_PASSWORD"  # noqa: S105 - the variable's name, not a value

# Docker Hub is known by several names in config files.
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


class RegistryError(RuntimeError):
    """A registry call failed; the message is redacted and says how to recover."""


class ManifestNotFoundError(RegistryError):
    """The registry answered that the tag or digest does not exist in the repository."""


class RegistryUnreachableError(RegistryError):
    """No answer from the registry within the retry budget."""


class RegistryAuthError(RegistryError):
    """The registry wanted credentials and none were found, or it refused the ones sent."""


class DigestMismatchError(RegistryError):
    """The registry holds a different manifest than the one asked or expected."""


@dataclass(frozen=True)
class Credentials:
    """A username and password for one registry, and where they came from (for messages)."""

    username: str
    password: str = field(repr=False)
    source: str
    """A human description such as 'env RELEASEGATE_REGISTRY_USERNAME/...'; never the values."""


@dataclass(frozen=True)
class CredentialLookup:
    """The outcome of looking for credentials: the first found, and every place looked at."""

    credentials: Credentials | None
    searched: tuple[str, ...]


@dataclass(frozen=True)
class ResolveRequest:
    """What a resolver needs; the same shape for every resolver (oci, later ecr, acr)."""

    registry: str
    repository: str
    reference: ImageRef
    insecure: bool = False


@dataclass(frozen=True)
class ResolvedManifest:
    registry: str
    repository: str
    reference: str
    digest: str
    """`sha256:<64 hex>` of the manifest (or index) bytes the registry serves for `reference`."""
    media_type: str | None


def registry_key(name: str) -> str:
    """Normalise a registry name as config files spell it (`https://host:port/v1/` -> host:port)."""
    text = name.strip().lower()
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    text = text.split("/", 1)[0]
    return "docker.io" if text in _DOCKER_HUB_ALIASES else text


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as the docker CLI does."""
    env = os.environ if environ is None else environ
    directory = env.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


def find_credentials(registry: str, environ: Mapping[str, str] | None = None) -> CredentialLookup:
    """Look for credentials for `registry`: env vars first, then the Docker config file.

    Raises RegistryAuthError when a source is present but unusable (half-set env vars, a
    config entry that does not decode), because silently falling back to another identity
    would make an auth failure much harder to understand.
    """
    env = os.environ if environ is None else environ
    searched: list[str] = []
    env_source = f"env {ENV_USERNAME}/{ENV_PASSWORD}"
    username, password = env.get(ENV_USERNAME, ""), env.get(ENV_PASSWORD, "")
    if username and password:
        return CredentialLookup(Credentials(username, password, env_source), (env_source,))
    if username or password:
        missing = ENV_PASSWORD if username else ENV_USERNAME
        raise RegistryAuthError(
            f"{env_source}: only one of the two is set ({missing} is empty); set both, or "
            f"unset both to use the Docker config file"
        )
    searched.append(f"{env_source} (not set)")

    path = docker_config_path(env)
    if not path.is_file():
        searched.append(f"{path} (no such file)")
        return CredentialLookup(None, tuple(searched))
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryAuthError(
            f"Docker config {path} could not be read as JSON ({type(exc).__name__}); fix or "
            f"remove it, or set {ENV_USERNAME}/{ENV_PASSWORD}"
        ) from None
    if not isinstance(config, dict):
        config = {}
    auths = config.get("auths")
    wanted = registry_key(registry)
    entry: Any = None
    entry_name = ""
    if isinstance(auths, dict):
        for name, value in auths.items():
            if isinstance(name, str) and registry_key(name) == wanted:
                entry, entry_name = value, name
                break
    if not isinstance(entry, dict):
        helpers = [k for k in ("credsStore", "credHelpers") if k in config]
        note = f"; {' and '.join(helpers)} are not read" if helpers else ""
        searched.append(f"{path} (no auths entry for {wanted}{note})")
        return CredentialLookup(None, tuple(searched))

    source = f"Docker config {path} (auths[{entry_name!r}])"
    user, secret = entry.get("username"), entry.get("password")
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            user, _, secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryAuthError(
                f"{source}: 'auth' is not base64 of user:password; run `docker login {registry}` "
                f"again or set {ENV_USERNAME}/{ENV_PASSWORD}"
            ) from None
    if isinstance(user, str) and isinstance(secret, str) and user and secret:
        return CredentialLookup(Credentials(user, secret, source), (*searched, source))
    searched.append(f"{source} (no usable auth, username/password)")
    return CredentialLookup(None, tuple(searched))


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split a WWW-Authenticate value into its scheme and parameters (realm, service, scope)."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


def _basic(creds: Credentials) -> str:
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode("ascii")
    return f"Basic {token}"


def _error_codes(response: httpx.Response) -> str:
    """The registry's error codes from a JSON body, e.g. 'MANIFEST_UNKNOWN: manifest unknown'."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors:
        if isinstance(error, dict):
            code, message = error.get("code", ""), error.get("message", "")
            parts.append(f"{code}: {message}" if message else str(code))
    return "; ".join(p for p in parts if p)


def _status_text(response: httpx.Response) -> str:
    codes = _error_codes(response)
    return f"HTTP {response.status_code}" + (f" {codes}" if codes else "")


class _Session:
    """One resolve: a deadline, the auth header earned so far and the secrets to redact."""

    def __init__(
        self,
        client: httpx.Client,
        request: ResolveRequest,
        lookup: Callable[[], CredentialLookup],
    ) -> None:
        self.client = client
        self.request_ = request
        self.lookup = lookup
        self.started = time.monotonic()
        self.deadline = self.started + RETRY_BUDGET_SECONDS
        self.authorization: str | None = None
        self.secrets: list[str] = []
        self.looked_up: CredentialLookup | None = None

    # -- errors -------------------------------------------------------------------------
    def fail(self, kind: type[RegistryError], message: str) -> RegistryError:
        return kind(redact(message, self.secrets))

    @property
    def where(self) -> str:
        return f"{self.request_.registry}/{self.request_.repository}"

    # -- transport with retries ------------------------------------------------------------
    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send once, retrying connection errors, 429 and 5xx with backoff within the budget."""
        backoff = INITIAL_BACKOFF_SECONDS
        attempts = 0
        while True:
            attempts += 1
            remaining = self.deadline - time.monotonic()
            timeout = max(0.5, min(REQUEST_TIMEOUT_SECONDS, remaining))
            try:
                response = self.client.request(
                    method, url, headers=headers, params=params, timeout=timeout
                )
            except httpx.TransportError as exc:
                last: httpx.Response | None = None
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return response
                last, problem = response, _status_text(response)
            elapsed = time.monotonic() - self.started
            if time.monotonic() + backoff > self.deadline:
                break
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        host = httpx.URL(url).netloc.decode("ascii", "replace")
        spent = f"after {attempts} attempt(s) over {elapsed:.1f}s"
        if last is None:
            raise self.fail(
                RegistryUnreachableError,
                f"registry {host} is unreachable {spent} ({problem}); check that the "
                f"registry address is right, that it is running and reachable from this "
                f"machine (network, proxy, firewall), then run `pulumi up` again",
            )
        raise self.fail(
            RegistryError,
            f"registry {host} kept failing {spent} (last answer {problem}) for {method} "
            f"{self.where}; it is overloaded or down: retry later or check its status",
        )

    # -- auth -----------------------------------------------------------------------------
    def credentials(self) -> Credentials | None:
        if self.looked_up is None:
            self.looked_up = self.lookup()
            found = self.looked_up.credentials
            if found is not None:
                self.secrets.extend([found.password, _basic(found).removeprefix("Basic ")])
        return self.looked_up.credentials

    def no_credentials_hint(self) -> str:
        searched = self.looked_up.searched if self.looked_up is not None else ()
        return (
            f"no credentials were found; looked in: {', '.join(searched)}. "
            f"Set {ENV_USERNAME}/{ENV_PASSWORD} or run `docker login {self.request_.registry}`"
        )

    def authenticate(self, response: httpx.Response) -> None:
        """Answer a 401 challenge: Basic with credentials, or fetch a Bearer token."""
        challenges = [parse_challenge(h) for h in response.headers.get_list("www-authenticate")]
        by_scheme = {scheme: params for scheme, params in challenges}
        creds = self.credentials()
        if "bearer" in by_scheme:
            self.authorization = f"Bearer {self.fetch_token(by_scheme['bearer'], creds)}"
        elif "basic" in by_scheme:
            if creds is None:
                raise self.fail(
                    RegistryAuthError,
                    f"registry {self.request_.registry} requires authentication (Basic) to "
                    f"read {self.where}; {self.no_credentials_hint()}",
                )
            self.authorization = _basic(creds)
        else:
            offered = ", ".join(s for s, _ in challenges) or "no WWW-Authenticate header"
            raise self.fail(
                RegistryAuthError,
                f"registry {self.request_.registry} answered 401 for {self.where} with an "
                f"unsupported challenge ({offered}); only Basic and Bearer are supported",
            )

    def fetch_token(self, params: Mapping[str, str], creds: Credentials | None) -> str:
        realm = params.get("realm", "")
        realm_url = httpx.URL(realm) if realm else None
        if realm_url is None or realm_url.scheme not in ("http", "https"):
            raise self.fail(
                RegistryAuthError,
                f"registry {self.request_.registry} asked for a Bearer token without a usable "
                f"realm ({realm!r}); the registry's auth configuration is broken",
            )
        if creds is not None and realm_url.scheme == "http" and not self.request_.insecure:
            raise self.fail(
                RegistryAuthError,
                f"registry {self.request_.registry} sends credentials to a plain-http token "
                f"realm {realm}; refusing to send {creds.source} over http (only registries "
                f"marked insecure may do that)",
            )
        query = {"service": params["service"]} if params.get("service") else {}
        query["scope"] = params.get("scope") or f"repository:{self.request_.repository}:pull"
        headers = {"Authorization": _basic(creds)} if creds is not None else {}
        response = self.send("GET", realm, headers=headers, params=query)
        if response.status_code != 200:
            who = f"with {creds.source}" if creds else "anonymously"
            hint = (
                f"check the username/password in {creds.source}"
                if creds
                else self.no_credentials_hint()
            )
            raise self.fail(
                RegistryAuthError,
                f"token service {realm_url.host} refused a token {who} for {self.where} "
                f"({_status_text(response)}); {hint}",
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self.fail(
                RegistryAuthError,
                f"token service {realm_url.host} answered 200 without a token for {self.where}",
            )
        self.secrets.append(token)
        return token

    def request(self, method: str, url: str) -> httpx.Response:
        """A registry API call, answering one auth challenge if the registry asks."""
        response = self.send(method, url, headers=self.headers())
        if response.status_code == 401 and self.authorization is None:
            self.authenticate(response)
            response = self.send(method, url, headers=self.headers())
        if response.status_code in (401, 403):
            self.raise_refused(response)
        return response

    def headers(self) -> dict[str, str]:
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        if self.authorization:
            headers["Authorization"] = self.authorization
        return headers

    def raise_refused(self, response: httpx.Response) -> None:
        status = response.status_code
        if response.request.method == "HEAD":  # no body: ask again for the error code
            again = self.send("GET", str(response.request.url), headers=self.headers())
            if again.status_code == status:
                response = again
        creds = self.looked_up.credentials if self.looked_up is not None else None
        if creds is not None:
            tried = f"with credentials from {creds.source}"
            hint = (
                f"check that user's password or token there, and that it may pull "
                f"{self.request_.repository}"
            )
        elif self.looked_up is not None:
            tried, hint = "anonymously", self.no_credentials_hint()
        else:
            tried = "anonymously"
            hint = "the registry sent no auth challenge, so no credentials were tried"
        verb = "denied access to" if status == 403 else "refused authentication for"
        raise self.fail(
            RegistryAuthError,
            f"registry {self.request_.registry} {verb} {self.where} "
            f"({_status_text(response)}) {tried}; {hint}",
        )


def manifest_url(request: ResolveRequest) -> str:
    scheme = "http" if request.insecure else "https"
    reference = request.reference.reference
    return f"{scheme}://{request.registry}/v2/{request.repository}/manifests/{reference}"


def resolve(
    request: ResolveRequest,
    *,
    credentials: Callable[[], CredentialLookup] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ResolvedManifest:
    """Resolve `request.reference` to the digest of the manifest the registry serves.

    A tag is resolved with HEAD (cheap, and not counted by registries that rate-limit pulls),
    taking `Docker-Content-Digest`; when the header is missing or malformed the manifest is
    fetched and hashed. A digest pin is always fetched and its bytes hashed, so the pin is
    verified against the content, not only against the registry's word.

    `credentials` is called only if the registry asks for authentication; it defaults to
    `find_credentials(request.registry)`.
    """
    lookup = credentials or (lambda: find_credentials(request.registry))
    url = manifest_url(request)
    ref = request.reference
    with httpx.Client(transport=transport, follow_redirects=True) as client:
        session = _Session(client, request, lookup)
        if not ref.is_digest:
            head = session.request("HEAD", url)
            if head.status_code == 200:
                digest = head.headers.get("docker-content-digest", "")
                if DIGEST_PATTERN.match(digest):
                    return ResolvedManifest(
                        request.registry,
                        request.repository,
                        ref.reference,
                        digest,
                        _media_type(head),
                    )
        response = session.request("GET", url)
        if response.status_code == 200:
            digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
            claimed = response.headers.get("docker-content-digest")
            if ref.is_digest and digest != ref.digest:
                raise session.fail(
                    DigestMismatchError,
                    f"registry {request.registry} served a manifest for {session.where}@"
                    f"{ref.digest} whose sha256 is {digest}: the registry or a proxy in between "
                    f"is not returning the pinned content; do not deploy it, investigate the "
                    f"registry",
                )
            if claimed and DIGEST_PATTERN.match(claimed) and claimed != digest:
                raise session.fail(
                    DigestMismatchError,
                    f"registry {request.registry} says {session.where}:{ref.reference} is "
                    f"{claimed} but the manifest bytes hash to {digest}; investigate the "
                    f"registry or a proxy in between before deploying",
                )
            return ResolvedManifest(
                request.registry, request.repository, ref.reference, digest, _media_type(response)
            )
        separator = "@" if ref.is_digest else ":"
        image = f"{session.where}{separator}{ref.reference}"
        if response.status_code == 404:
            raise session.fail(
                ManifestNotFoundError,
                f"image {image} was not found ({_status_text(response)}); push that image to "
                f"{session.where}, or fix the pin in stack config if it names the wrong "
                f"{'digest' if ref.is_digest else 'tag'} or repository",
            )
        raise session.fail(
            RegistryError,
            f"registry {request.registry} answered {_status_text(response)} for {image}; "
            f"expected 200 with a manifest",
        )


def _media_type(response: httpx.Response) -> str | None:
    value = response.headers.get("content-type")
    return value.split(";", 1)[0].strip() if value else None
