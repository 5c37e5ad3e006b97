"""Names derived from free text (release strings, stack and image names): one place for the
three steps every cloud name rule needs, so each call site states only its rule.

1. `slug`: characters the rule refuses become '-', then the ends are trimmed.
2. `short_hash`: a few hex characters of the exact text, so two texts that read alike after
   step 1 (v1.4.2 and v1-4-2) still get different names.
3. `fit`: cut a slug to a length limit, keeping a suffix (usually the short hash) whole.

The call sites' outputs are names of resources that already exist (snapshots, keep tags,
backups, restored servers); tests/unit/test_naming.py pins each of them, because a changed
name would replace the resource or lose track of it.
"""

from __future__ import annotations

import hashlib
import re

LOWER_ALNUM = r"[^a-z0-9]"
"""Drop everything but ASCII lowercase letters and digits (the default, after lowercasing)."""
NOT_ALNUM = r"[\W_]"
"""Drop everything `str.isalnum` refuses: Unicode letters and digits stay."""


def slug(
    text: str,
    *,
    drop: str = LOWER_ALNUM,
    lower: bool = True,
    runs: bool = True,
    squeeze: bool = False,
    strip: str = "-",
    fallback: str = "",
) -> str:
    """`text` with every character matching the one-character pattern `drop` turned into '-'.

    `lower` lowercases first; `runs` turns a run of dropped characters into one '-' (else one
    '-' each); `squeeze` also collapses runs of '-' already in the text; `strip` trims those
    characters from both ends; `fallback` stands in for an empty result.
    """
    if lower:
        text = text.lower()
    out = re.sub(f"{drop}+" if runs else drop, "-", text)
    if squeeze:
        out = re.sub(r"-{2,}", "-", out)
    return out.strip(strip) or fallback


def short_hash(text: str, length: int) -> str:
    """The first `length` hex characters of the SHA-256 of `text`."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(text: str, limit: int, suffix: str, *, strip: str = "-") -> str:
    """`<text cut>-<suffix>` in at most `limit` characters; the cut end loses `strip` chars."""
    return f"{text[: limit - len(suffix) - 1].rstrip(strip)}-{suffix}"
