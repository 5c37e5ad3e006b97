"""The `oci` image-pin resolver: a tag or digest to the manifest digest, read with skopeo.

The image pin turns what the stack config says (`v1.4.2` or `sha256:...`) into the one digest
every service runs, so a release and its rollback name exactly one build. The registry
protocol (Basic and token auth, the Accept list that keeps a multi-arch index an index) and
the credential lookup are skopeo's (containers/image): `skopeo inspect --raw` prints the exact
manifest bytes, whose sha256 is the digest runtimes pull by. skopeo reads credentials where
the container tools keep them, Docker's included: `$DOCKER_CONFIG/config.json` (or
`~/.docker/config.json`) `auths` and `credHelpers` (docker-credential-<name> helpers on PATH;
a global `credsStore` is not read, containers/image#111), and containers-auth.json(5)'s
`${XDG_RUNTIME_DIR}/containers/auth.json`.

Why skopeo and not the alternatives (checked for issue 14): the Docker engine's
`/distribution/{name}/json` (docker SDK `inspect_distribution`) is not served by podman
(containers/podman#17726, open; PR #28358 unmerged), the engine this project tests and many
local users run; oras-py reads credential helpers only since 2025 (oras-project/oras-py#206,
#212) and would still leave the digest and messages to us. skopeo is in Debian, already a
system dependency (scripts/system-deps.sh).

What this module adds is the product's: env credentials for CI, bounded retries while the
registry is unreachable or overloaded, the digest check of a digest pin, and messages that say
what failed and how to fix it, with every secret redacted. Tunables (`RETRY_BUDGET_SECONDS`
and friends) are read at call time so tests can shrink them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from components.gates.redact import redact
from components.imageref import ImageRef

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

RETRY_BUDGET_SECONDS = 30.0
"""Total time one resolve may spend retrying an unreachable or overloaded registry."""
REQUEST_TIMEOUT_SECONDS = 10.0
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 4.0

ENV_USERNAME = "RELEASEGATE_REGISTRY_USERNAME"
ENV_PASSWORD = "RELEASEGATE_REGISTRY_PASSWORD"  # noqa: S105 - the variable's name, not a value

# The distribution spec's error codes (docs/spec/api.md, "Errors") and the status each comes
# with; containers/image prints a code as its lowercased words, e.g. "manifest unknown".
_ERROR_CODES = {
    "manifest unknown": ("MANIFEST_UNKNOWN", 404),
    "name unknown": ("NAME_UNKNOWN", 404),
    "unauthorized": ("UNAUTHORIZED", 401),
    "denied": ("DENIED", 403),
    "too many requests": ("TOOMANYREQUESTS", 429),
    "unavailable": ("UNAVAILABLE", 503),
}
_UNREACHABLE = re.compile(
    r"connection refused|no such host|i/o timeout|network is unreachable|connection reset"
    r"|TLS handshake timeout|timeout awaiting response headers|EOF$"
)
_OVERLOADED = re.compile(
    r"(?:status|HTTP)[^0-9]{0,12}(5\d\d|429)|too many requests|unavailable", re.IGNORECASE
)
_TOKEN_REFUSED = re.compile(r"unable to retrieve auth token: invalid username/password: (.*)")
_BEARER_REALM = re.compile(r'^\s*bearer\s.*?\brealm="?([^",\s]+)', re.IGNORECASE)
_MISMATCH = re.compile(r"does not match (?:the )?(?:provided|expected)? ?(?:manifest )?digest")


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
class ResolveRequest:
    """What a resolver needs; the same shape for every resolver (oci, ecr, acr)."""

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


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as the docker CLI does."""
    env = os.environ if environ is None else environ
    directory = env.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def _env_credentials(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The CI credentials from the environment; half-set variables are an error, because
    silently falling back to another identity makes an auth failure hard to understand."""
    username, password = environ.get(ENV_USERNAME, ""), environ.get(ENV_PASSWORD, "")
    if username and password:
        return username, password
    if username or password:
        missing = ENV_PASSWORD if username else ENV_USERNAME
        raise RegistryAuthError(
            f"env {ENV_USERNAME}/{ENV_PASSWORD}: only one of the two is set ({missing} is "
            f"empty); set both, or unset both to use the Docker config file"
        )
    return None


def _auth_files(environ: Mapping[str, str]) -> list[tuple[str, Path]]:
    """Where skopeo looks for credentials (containers-auth.json(5)), Docker's config last."""
    files = []
    if environ.get("REGISTRY_AUTH_FILE"):
        files.append(("auth file", Path(environ["REGISTRY_AUTH_FILE"])))
    if environ.get("XDG_RUNTIME_DIR"):
        files.append(("auth file", Path(environ["XDG_RUNTIME_DIR"]) / "containers/auth.json"))
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    files.append(("auth file", Path(config_home) / "containers/auth.json"))
    return [*files, ("Docker config", docker_config_path(environ))]


def _configured(registry: str, environ: Mapping[str, str]) -> str | None:
    """Which entry would give skopeo credentials for `registry`, if any (for messages only:
    skopeo reads the credentials itself)."""
    for kind, path in _auth_files(environ):
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for section in ("auths", "credHelpers"):
            entries = config.get(section) if isinstance(config, dict) else None
            for name in entries if isinstance(entries, dict) else ():
                host = re.sub(r"^https?://", "", str(name)).split("/", 1)[0]
                if host == registry:
                    return f"{kind} {path} ({section}[{name!r}])"
    return None


class _Attempt:
    """One resolve's context: what to name in messages and which secrets to redact."""

    def __init__(self, request: ResolveRequest, environ: Mapping[str, str]) -> None:
        self.request = request
        self.environ = environ
        self.env_credentials = _env_credentials(environ)
        self.secrets: list[str] = []
        if self.env_credentials is not None:
            user, password = self.env_credentials
            self.secrets += [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
        ref = request.reference
        self.where = f"{request.registry}/{request.repository}"
        self.image = f"{self.where}{'@' if ref.is_digest else ':'}{ref.reference}"

    def fail(self, kind: type[RegistryError], message: str) -> RegistryError:
        return kind(redact(message, self.secrets))

    def source(self) -> str | None:
        if self.env_credentials is not None:
            return f"env {ENV_USERNAME}/{ENV_PASSWORD}"
        return _configured(self.request.registry, self.environ)

    def looked_in(self) -> str:
        return (
            f"no credentials were found; looked in: env {ENV_USERNAME}/{ENV_PASSWORD} (not "
            f"set), {docker_config_path(self.environ)} (auths, credHelpers; a global "
            f"credsStore is not read) and the containers auth.json files ("
            f"{', '.join(str(p) for k, p in _auth_files(self.environ) if k == 'auth file')}). Set "
            f"{ENV_USERNAME}/{ENV_PASSWORD}, run `docker login {self.request.registry}` or "
            f"name a credential helper for it under credHelpers"
        )

    def refused(self, code: str, status: int, detail: str) -> RegistryError:
        source = self.source()
        tried = f"with credentials from {source}" if source else "anonymously"
        hint = (
            f"check that user's password or token there, and that it may pull "
            f"{self.request.repository}"
            if source
            else self.looked_in()
        )
        verb = "denied access to" if status == 403 else "refused authentication for"
        if source is None and status == 401:
            verb = "requires authentication to read"
        return self.fail(
            RegistryAuthError,
            f"registry {self.request.registry} {verb} {self.where} (HTTP {status} {code}: "
            f"{detail}) {tried}; {hint}",
        )


def _codes(message: str) -> list[tuple[str, int, str]]:
    """The distribution error codes in a containers/image message: (CODE, status, detail)."""
    found = []
    for line in re.split(r"\n|: (?=[a-z ]+: )", message):
        words, _, detail = line.strip().partition(": ")
        if words in _ERROR_CODES:
            code, status = _ERROR_CODES[words]
            found.append((code, status, detail or words))
    return found


def _classify(attempt: _Attempt, message: str) -> RegistryError:
    """Turn skopeo's error into the product's error and message."""
    request, ref = attempt.request, attempt.request.reference
    codes = _codes(message)
    token = _TOKEN_REFUSED.search(message)
    if token:
        source = attempt.source() or "no credentials"
        return attempt.fail(
            RegistryAuthError,
            f"the token service of registry {request.registry} refused a token with "
            f"{source} for {attempt.where} (HTTP 401 UNAUTHORIZED: {token.group(1)}); "
            f"check the username/password there",
        )
    for code, status, detail in codes:
        if status == 404:
            return attempt.fail(
                ManifestNotFoundError,
                f"image {attempt.image} was not found (HTTP 404 {code}: {detail}); push that "
                f"image to {attempt.where}, or fix the pin in stack config if it names the "
                f"wrong {'digest' if ref.is_digest else 'tag'} or repository",
            )
    auth = [c for c in codes if c[1] in (401, 403)]
    if auth:
        # With credentials a 403 says what matters (this identity may not pull); without,
        # the 401 does (log in). A token registry answers an anonymous token with both.
        wanted = 403 if attempt.source() else 401
        return attempt.refused(*next((c for c in auth if c[1] == wanted), auth[0]))
    if _MISMATCH.search(message):
        return attempt.fail(
            DigestMismatchError,
            f"registry {request.registry} served a manifest for {attempt.image} that does not "
            f"hash to the pinned digest: the registry or a proxy in between is not returning "
            f"the pinned content; do not deploy it, investigate the registry ({message})",
        )
    return attempt.fail(
        RegistryError,
        f"registry {request.registry} could not serve {attempt.image}: {message}",
    )


def _skopeo(attempt: _Attempt, authfile: Path | None) -> subprocess.CompletedProcess[bytes]:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise RegistryError(
            "the 'oci' resolver needs skopeo on PATH (Debian/Ubuntu: apt-get install skopeo; "
            "scripts/system-deps.sh installs it)"
        )
    request = attempt.request
    timeout = f"{REQUEST_TIMEOUT_SECONDS:.0f}s"
    argv = [skopeo, "--command-timeout", timeout, "inspect", "--raw", "--retry-times", "0"]
    argv.append(f"--tls-verify={'false' if request.insecure else 'true'}")
    if authfile is not None:
        argv += ["--authfile", str(authfile)]
    argv.append(f"docker://{attempt.image}")
    try:
        return subprocess.run(
            argv, capture_output=True, timeout=REQUEST_TIMEOUT_SECONDS + 5, check=False,
            env=dict(attempt.environ), stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 1, b"", b'msg="i/o timeout"')


def _error_text(stderr: bytes) -> str:
    """skopeo's fatal message without logrus framing (`level=fatal msg="..."`)."""
    text = stderr.decode("utf-8", "replace").strip()
    messages = re.findall(r'level=fatal msg="((?:[^"\\]|\\.)*)"', text)
    if messages:
        text = messages[-1].encode().decode("unicode_escape")
    return re.sub(r'^Error parsing image name "[^"]*": ', "", text).strip()


def _authfile(attempt: _Attempt, directory: str) -> Path | None:
    """The env credentials as a private auth.json for `--authfile` (never on a command line,
    where other users' `ps` could read it); None lets skopeo use the standard files."""
    if attempt.env_credentials is None:
        return None
    user, password = attempt.env_credentials
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = Path(directory) / "auth.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps({"auths": {attempt.request.registry: {"auth": auth}}}))
    return path


def _refuse_plain_http_realm(attempt: _Attempt) -> None:
    """Refuse before skopeo runs when an https registry names a plain-http token realm and
    credentials exist: containers/image would send them there in clear text (Basic auth on the
    token request; seen with skopeo 1.9), and so would anyone on the path."""
    request, source = attempt.request, attempt.source()
    if request.insecure or source is None:
        return
    try:
        ping = httpx.get(f"https://{request.registry}/v2/", timeout=REQUEST_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return  # skopeo retries and reports an unreachable registry
    for challenge in ping.headers.get_list("www-authenticate"):
        realm = _BEARER_REALM.match(challenge)
        if realm and realm.group(1).lower().startswith("http://"):
            raise attempt.fail(
                RegistryAuthError,
                f"registry {request.registry} sends credentials to a plain-http token realm "
                f"{realm.group(1)}; refusing to send {source} over http (only registries "
                f"marked insecure may do that)",
            )


def resolve(request: ResolveRequest, environ: Mapping[str, str] | None = None) -> ResolvedManifest:
    """Resolve `request.reference` to the sha256 of the manifest bytes the registry serves.

    A digest pin is verified against the bytes (skopeo checks it too), so the pin is checked
    against the content, not only against the registry's word. An unreachable or overloaded
    registry (connection errors, 429, 5xx) is retried with backoff within RETRY_BUDGET_SECONDS.
    """
    attempt = _Attempt(request, os.environ if environ is None else environ)
    _refuse_plain_http_realm(attempt)
    started = time.monotonic()
    backoff, attempts = INITIAL_BACKOFF_SECONDS, 0
    with tempfile.TemporaryDirectory(prefix="releasegate-pin-") as private:
        authfile = _authfile(attempt, private)
        while True:
            attempts += 1
            result = _skopeo(attempt, authfile)
            if result.returncode == 0:
                return _resolved(attempt, result.stdout)
            message = _error_text(result.stderr)
            unreachable = bool(_UNREACHABLE.search(message))
            if not unreachable and not _OVERLOADED.search(message):
                raise _classify(attempt, message)
            if time.monotonic() + backoff > started + RETRY_BUDGET_SECONDS:
                break
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
    spent = f"after {attempts} attempt(s) over {time.monotonic() - started:.1f}s"
    if unreachable:
        raise attempt.fail(
            RegistryUnreachableError,
            f"registry {request.registry} is unreachable {spent} ({message}); check that the "
            f"registry address is right, that it is running and reachable from this machine "
            f"(network, proxy, firewall), then run `pulumi up` again",
        )
    raise attempt.fail(
        RegistryError,
        f"registry {request.registry} kept failing {spent} (last answer: {message}) for "
        f"{attempt.image}; it is overloaded or down: retry later or check its status",
    )


def _resolved(attempt: _Attempt, raw: bytes) -> ResolvedManifest:
    request, ref = attempt.request, attempt.request.reference
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if ref.is_digest and digest != ref.digest:
        raise attempt.fail(
            DigestMismatchError,
            f"registry {request.registry} served a manifest for {attempt.image} whose sha256 "
            f"is {digest}: the registry or a proxy in between is not returning the pinned "
            f"content; do not deploy it, investigate the registry",
        )
    try:
        media_type = json.loads(raw).get("mediaType")
    except (ValueError, AttributeError):
        media_type = None
    return ResolvedManifest(
        request.registry,
        request.repository,
        ref.reference,
        digest,
        media_type if isinstance(media_type, str) else None,
    )
