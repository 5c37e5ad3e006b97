"""boto3 clients for the AWS backends, made inside provider methods (never at import time) and
never holding credentials of their own: boto3's standard chain decides (env, profile, web
identity in CI, the task role), and its standard endpoint settings (`AWS_ENDPOINT_URL`,
`AWS_ENDPOINT_URL_<SERVICE>`) point them at an emulator in tests.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10,
                 read_timeout=30)  # fmt: skip


def client(service: str, region: str) -> Any:
    """A client for `service` in `region` with bounded retries and timeouts."""
    return boto3.session.Session().client(service, region_name=region, config=RETRIES)


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")
