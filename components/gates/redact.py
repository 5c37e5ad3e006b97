"""Redaction for anything a gate or runner prints: error messages, log tails, evidence.

Gate and migration output ends up in `pulumi up` logs and CI transcripts, so known secret
values and credential-shaped fragments are masked before any text leaves a provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[redacted]"

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
_SECRET_QUERY = re.compile(
    r"(?i)(?P<key>[?&](?:token|access_token|password|passwd|secret|signature|sig|key|api_key)=)[^&\s]+"
)
_AUTH_HEADER = re.compile(r"(?i)(?P<key>authorization:\s*(?:basic|bearer)\s+)\S+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values (longest first) and credential-shaped fragments in `text`."""
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group('key')}{MASK}", text)
