"""Image references as the release pins them: an immutable tag or a sha256 digest.

Shared by config validation (before any resource exists) and the image-pin provider (which
re-checks at deploy time), so both refuse the same things with the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGEST = r"sha256:[0-9a-f]{64}"
DIGEST_PATTERN = re.compile(f"^{_DIGEST}$")
# What a deployment runs: `<registry>/<repository>@sha256:<64 hex>`, immutable.
PINNED_IMAGE_PATTERN = re.compile(rf"^[^\s@]+@{_DIGEST}$")
# The OCI distribution spec's tag grammar.
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
# Tags that by convention move to new images; pinning one makes a rollback target drift.
MUTABLE_TAGS = frozenset({"latest", "stable", "edge", "nightly", "main", "master", "head"})

ALLOWED = "an immutable tag such as v1.4.2 or a digest sha256:<64 hex>"


class ImageRefError(ValueError):
    """A pin that cannot be used. The message reads after the value: "'latest' <message>"."""


@dataclass(frozen=True)
class ImageRef:
    """One pin: a tag, a digest, or both when written `tag@sha256:...` (as `promote` writes
    them: the digest decides what runs, the tag is the version the gate expects to be served
    and what the ledger shows)."""

    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """The string the registry API takes after `/manifests/`."""
        return self.digest if self.digest is not None else str(self.tag)

    @property
    def pinned(self) -> str:
        """The pin as written: `tag@sha256:...` when it names both, else `reference`. What the
        image pin takes, so it records the tag next to the digest it verifies."""
        if self.tag is not None and self.digest is not None:
            return f"{self.tag}@{self.digest}"
        return self.reference

    @property
    def is_digest(self) -> bool:
        return self.digest is not None


def parse_image_ref(value: object) -> ImageRef:
    """Parse a pin, refusing empty values, mutable tags and malformed digests."""
    if not isinstance(value, str):
        raise ImageRefError(f"must be a string, got {type(value).__name__}; allowed: {ALLOWED}")
    text = value.strip()
    if not text:
        raise ImageRefError(f"is empty; allowed: {ALLOWED}")
    if text.startswith("sha256:") or "@" in text:
        tag, _, digest = text.rpartition("@")
        if not DIGEST_PATTERN.match(digest):
            raise ImageRefError(
                f"is not a valid digest (sha256: followed by 64 lowercase hex); allowed: {ALLOWED}"
            )
        if tag and (not TAG_PATTERN.match(tag) or tag.lower() in MUTABLE_TAGS):
            raise ImageRefError(
                f"names {tag!r} before its digest, which is not an immutable tag; allowed: "
                f"{ALLOWED}, or both as tag@sha256:<64 hex>"
            )
        return ImageRef(tag=tag or None, digest=digest)
    if text.lower() in MUTABLE_TAGS:
        raise ImageRefError(
            "is a mutable tag: it moves to new images, so a rollback to it is not "
            f"reproducible; allowed: {ALLOWED}"
        )
    if not TAG_PATTERN.match(text):
        raise ImageRefError(f"is not a valid image tag; allowed: {ALLOWED}")
    return ImageRef(tag=text)
