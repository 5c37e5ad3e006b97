"""Redaction for anything a gate or runner prints: error messages, log tails, evidence.

Gate and migration output ends up in `pulumi up` logs, CI transcripts and (as secret outputs)
in state, so known secret values and credential-shaped fragments are masked before any text
leaves a provider. Two layers, because neither is enough alone:

- Known values: every secret the stack knows (app secrets, generated secrets, DATABASE_URL and
  the database password) is masked wherever it appears, also percent-encoded (a password with
  `@` or `/` appears as `%40`/`%2F` inside DATABASE_URL) or form-encoded (`+` for a space).
  Values shorter than 4 characters are not masked: masking `db` or `1` would blot out every
  occurrence of those letters in the log (making it unreadable and pointing at the value
  wherever it appears) while protecting nothing a guess would not find.
- Shapes: credentials the stack does not know (a token the migration read from elsewhere, AWS
  keys in an SDK's debug output) are recognised by form: URL userinfo, libpq `key=value`,
  `Authorization` headers and bare `Bearer` tokens, AWS access key ids and secret keys,
  pre-signed URL signatures and JSON/env fields named like a secret.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "[redacted]"
MIN_SECRET_LENGTH = 4
"""Known values shorter than this are not masked (see the module docstring)."""

# `scheme://user:password@` (the user may be empty: `redis://:password@host`).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]*:[^/\s@]+@")
# Query parameters that carry a credential. X-Amz-Signature, X-Amz-Credential and
# X-Amz-Security-Token are the SigV4 query-auth parameters of a pre-signed AWS URL
# (botocore/auth.py, SigV4QueryAuth); `sig` is an Azure SAS signature.
_SECRET_QUERY = re.compile(
    r"(?i)(?P<key>[?&](?:token|access_token|password|passwd|secret|signature|sig|key|api_key"
    r"|x-amz-signature|x-amz-security-token|x-amz-credential)=)[^&\s#]+"
)
# An `Authorization:` header (or a JSON/repr field of that name) keeps the scheme name and
# loses the credentials; in an AWS SigV4 header the key id and `Signature=` go below.
_AUTH_HEADER = re.compile(
    r"(?i)(?P<key>\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:basic|bearer|token|digest)\s+)?)[^\s\"',]+"
)
# A bare bearer token: RFC 6750 section 2.1, `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_"
# / "~" / "+" / "/" ) *"="`. At least 8 characters, so prose ("bearer token expired") and a
# `WWW-Authenticate: Bearer realm=...` challenge stay readable.
_BEARER = re.compile(r"(?i)(?P<key>\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*")
# Field names that hold a secret, as a whole name or its last part: `password`,
# `DB_PASSWORD`, `sslpassword` (libpq), `PGPASSWORD`, `aws_secret_access_key`,
# `SecretAccessKey`, `SessionToken`, `client_secret`, `api_key`...
_CREDENTIAL_FIELD = (
    r"[A-Za-z0-9_-]*?"
    r"(?:password|passwd|secret|signature|secret[_-]?access[_-]?key|secret[_-]?key"
    r"|session[_-]?token|security[_-]?token|access[_-]?token|refresh[_-]?token|auth[_-]?token"
    r"|api[_-]?key|private[_-]?key|client[_-]?secret)"
)
# `"password": "..."` (JSON) or `'password': '...'` (a Python repr).
_QUOTED_FIELD = re.compile(
    rf"""(?i)(?P<key>(?P<q>["']){_CREDENTIAL_FIELD}(?P=q)\s*:\s*)"""
    r"""(?P<vq>["'])(?:(?!(?P=vq))[^\\]|\\.)*(?P=vq)"""
)
# `password=secret host=db` (libpq keyword/value), `password = 'with spaces'`,
# `AWS_SECRET_ACCESS_KEY=...` (env), `aws_secret_access_key = ...` (credentials file). libpq:
# "spaces around the equal sign are optional"; a value with spaces is single-quoted, with `\'`
# and `\\` escaped (PostgreSQL docs, libpq "Keyword/Value Connection Strings"). Query strings
# (`?password=`) are left to `_SECRET_QUERY`.
_KEY_VALUE = re.compile(
    rf"""(?i)(?P<key>(?<![A-Za-z0-9_?&-]){_CREDENTIAL_FIELD}\s*=\s*)"""
    r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]+)"""
)
# A 40-character AWS secret access key right after a field named like one, with any quoting
# or separator between (`AWS_SECRET_ACCESS_KEY: wJalr...`, `"SecretAccessKey", "wJalr..."`).
_AWS_SECRET_AFTER_NAME = re.compile(
    r"(?i)(?P<key>secret[_-]?access[_-]?key[\"']?[\s:=,\"']{1,6})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
)
# AWS access key ids: `AKIA` (long-term) or `ASIA` (STS) and 16 more characters (20 in all;
# STS GetAccessKeyInfo docs in botocore's sts model, e.g. AKIAIOSFODNN7EXAMPLE), with the
# 40-character secret key when it follows within a few separators (`id:secret`, `id secret`).
_AWS_KEY_ID = re.compile(
    r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"
    r"(?:(?P<sep>[\s:,;|=\"'/]{1,4})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+]))?"
)


def _value_pattern(value: str) -> str:
    """A regex for `value` as written, percent-encoded (either hex case, whole or in part)
    or form-encoded (`+` for a space)."""
    parts: list[str] = []
    for char in value:
        forms = [re.escape(char), "".join(f"(?i:%{byte:02X})" for byte in char.encode())]
        if char == " ":
            forms.append(r"\+")
        parts.append(f"(?:{'|'.join(forms)})")
    return "".join(parts)


def known_secret_values(value: object) -> tuple[str, ...]:
    """The strings of a provider's `known_secrets` input (a list of secret values); nothing
    for a value that is not a list yet (unknown during preview) and no non-string items."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


def known_secrets_problem(value: object) -> str | None:
    """Why a `known_secrets` input is unusable, or None (also while it is unknown, during
    preview). Never quotes the value: it is secret."""
    from components.gates.provider_base import is_unknown  # noqa: PLC0415 - keeps this light

    if value is None or is_unknown(value, deep=True):
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return None
    return "must be a list of secret strings"


def _with_url_passwords(secrets: Iterable[str]) -> set[str]:
    """The values, plus the decoded password of each one that is a URL with credentials (a
    DATABASE_URL's password is a secret of its own wherever it appears alone)."""
    values = {s for s in secrets if isinstance(s, str)}
    for value in list(values):
        if "://" in value:
            with contextlib.suppress(ValueError):
                password = urlsplit(value.strip()).password
                if password:
                    values.add(unquote(password))
    return values


def _known(secrets: Iterable[str]) -> re.Pattern[str] | None:
    values = sorted(
        {s for s in _with_url_passwords(secrets) if len(s) >= MIN_SECRET_LENGTH},
        key=len,
        reverse=True,
    )
    if not values:
        return None
    # One alternation, longest first, in one pass: a mask is never matched again.
    return re.compile("|".join(_value_pattern(v) for v in values))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values (in any encoding) and credential-shaped fragments in `text`."""
    known = _known(secrets)
    if known is not None:
        text = known.sub(MASK, text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group('key')}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group('key')}{MASK}", text)
    text = _QUOTED_FIELD.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}{m.group('q')}", text)
    text = _AWS_SECRET_AFTER_NAME.sub(lambda m: f"{m.group('key')}{MASK}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _AWS_KEY_ID.sub(
        lambda m: MASK if m.group("sep") is None else f"{MASK}{m.group('sep')}{MASK}", text
    )
