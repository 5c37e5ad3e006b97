"""An AWS API emulator for the AWS backends: moto's server mode on 127.0.0.1, started once per
test session and stopped at its end, reset between tests. boto3 reaches it through the standard
`AWS_ENDPOINT_URL` setting, the way the backends are meant to be pointed anywhere.

moto cannot produce some real states (a container's non-zero exit code, a task that stops
before starting, a deployment the circuit breaker rolled back): those tests put botocore's
Stubber in front of a client, with responses shaped like the real API.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import httpx
import pytest

from tests.aws import cloud_rules

REGION = "eu-west-1"


@dataclass(frozen=True)
class Emulator:
    url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service, region_name=REGION, endpoint_url=self.url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def reset(self) -> None:
        httpx.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    port = _free_port()
    server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url}") from None
                time.sleep(0.2)
        yield Emulator(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(autouse=True)
def aws_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every botocore client made during a test refuses what AWS refuses (cloud_rules)."""
    create = botocore.session.Session.create_client

    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        return cloud_rules.enforce(create(self, *args, **kwargs))

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)


@pytest.fixture
def aws(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """A clean emulator, with boto3's standard environment pointing at it."""
    emulator.reset()
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return emulator


@dataclass(frozen=True)
class Network:
    subnet: str
    security_group: str


@pytest.fixture
def network(aws: Emulator) -> Network:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # moto needs it
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)
    return Network(subnet, group["GroupId"])
