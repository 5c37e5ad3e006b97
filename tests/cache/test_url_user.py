"""Every target's REDIS_URL names the `default` user, and that is what a real client needs:
Debian's `redis-cli` (7.0) and `redis-server`, the server protected by `requirepass` (the
password of the `default` user, as ElastiCache's AUTH token and Managed Redis' access key are).

`redis-cli -u` with the URL each target builds (the scheme made `redis://` and the host this
test's server: what is tested is the user and the percent-encoded password) is served; the
same URL with an empty user (`redis://:<password>@...`) is refused, because redis-cli then
sends `AUTH "" <password>`: the reason no target leaves the user empty."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from components.aws.cache import redis_url as aws_url
from components.azure.cache import redis_url as azure_url
from components.local.cache import cache_url as local_url
from tests.servers.redis import RedisServer, free_port, start_redis

PASSWORDS = {
    "aws": "Tok3nLettersAndDigits0123456789abcdefghij",  # CACHE_PASSWORD: 40 letters, digits
    "azure": "k3y/With+Reserved=Chars",  # access keys are base64: `/`, `+`, `=` encoded
    "local": "Generated_secret-0123456789",  # letters, digits, - and _ (check_password)
}
URLS: dict[str, Callable[[str], str]] = {
    "aws": lambda password: aws_url(password, "master.example.cache.amazonaws.com"),
    "azure": lambda password: azure_url(password, "cache.westeurope.redis.azure.net"),
    "local": lambda password: local_url(password, "releasegate-dev-cache"),
}


@pytest.fixture(params=sorted(URLS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, RedisServer]]:
    """A target's name and a redis-server whose `default` user has that target's password."""
    name: str = request.param
    port = free_port()
    config = (f"bind 127.0.0.1\nport {port}\ndir {tmp_path}\nsave \"\"\nappendonly no\n"
              f"requirepass {PASSWORDS[name]}\n")  # fmt: skip
    started = start_redis(tmp_path, config, port)
    try:
        yield name, started
    finally:
        started.stop()


def here(url: str, port: int) -> str:
    """`url` with scheme redis:// and this test's server as host, userinfo kept as built."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return urlunsplit(("redis", f"{userinfo}@127.0.0.1:{port}", parts.path, "", ""))


def ping(url: str) -> str:
    cli = shutil.which("redis-cli")
    assert cli is not None, "redis-cli not found: apt-get install redis-tools"
    done = subprocess.run([cli, "--no-auth-warning", "-u", url, "PING"], capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip
    return (done.stdout + done.stderr).strip()


def test_each_targets_url_names_the_default_user_and_is_served(
    target: tuple[str, RedisServer],
) -> None:
    name, server = target
    url = URLS[name](PASSWORDS[name])
    assert urlsplit(url).username == "default"
    assert ping(here(url, server.port)) == "PONG"


def test_the_same_url_with_an_empty_user_is_refused(target: tuple[str, RedisServer]) -> None:
    name, server = target
    empty = here(URLS[name](PASSWORDS[name]), server.port).replace("://default:", "://:", 1)
    answer = ping(empty)
    assert "PONG" not in answer and "WRONGPASS" in answer, answer


def test_a_wrong_password_is_refused(target: tuple[str, RedisServer]) -> None:
    name, server = target
    answer = ping(here(URLS[name]("Not-the-password-0123456789"), server.port))
    assert "PONG" not in answer and "WRONGPASS" in answer, answer
