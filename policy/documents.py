"""IAM-style policy documents (S3 bucket policies, KMS key policies) as the rules read them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def statements(policy: Any) -> list[Mapping[str, Any]] | None:
    """The document's statements (one or a list), or None when it is not known yet (a preview
    of a computed value) or not a JSON object."""
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy
    except json.JSONDecodeError:
        return None
    if not isinstance(document, Mapping):
        return None
    found = document.get("Statement")
    found = [found] if isinstance(found, Mapping) else found
    return [s for s in found or [] if isinstance(s, Mapping)]
