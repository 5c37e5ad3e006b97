"""The local target's cache against a real Redis server (Debian's `redis-server`).

The component (`components.local.cache.LocalCache`) is built under mocks; the config file it
uploads and the REDIS_URL it hands to services are read from what it registered. The test
runs `redis-server <config file>` with that config (the container's own command shape; only
bind, port and data folder differ, rendered by the same function), then connects the way a
service would, from the URL: refused without the password, served with it, persistence on,
and data written before a restart is there after it.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from components.local.cache import (
    CACHE_PORT,
    CONFIG_FILE,
    RDB_SAVE,
    CachePasswordError,
    cache_url,
    health_command,
    restore_script,
    server_config,
)
from tests.cache.component import PREFIX, Built, build
from tests.servers.redis import RedisServer, RespError, connect, free_port, start_redis


@pytest.fixture(scope="module")
def built() -> Built:
    return build()


@pytest.fixture
def server(built: Built, tmp_path: Path) -> Iterator[RedisServer]:
    started = start_redis(tmp_path, local_config(built, tmp_path, port := free_port()), port)
    try:
        yield started
    finally:
        started.stop()


def local_config(built: Built, data: Path, port: int) -> str:
    """The uploaded config, for a server on 127.0.0.1:port keeping its data in `data`."""
    [upload] = built.container["uploads"]
    assert upload["file"] == CONFIG_FILE
    assert upload["content"] == server_config(built.password)
    config = server_config(built.password, port=port, data_dir=str(data), bind="127.0.0.1")
    changed = set(config.splitlines()) ^ set(upload["content"].splitlines())
    assert {line.split()[0] for line in changed} == {"bind", "port", "dir"}
    return config


def service_view(url: str) -> tuple[str, int, tuple[str, ...], int]:
    """What a service makes of REDIS_URL, as redis-py's `from_url` reads it: host, port, the
    AUTH arguments (user and password; the password alone when the URL names no user), db."""
    parts = urlsplit(url)
    assert parts.scheme == "redis"
    assert parts.password is not None
    auth = (parts.username, parts.password) if parts.username else (parts.password,)
    return parts.hostname or "", parts.port or 6379, auth, int(parts.path[1:] or 0)


def test_the_url_names_the_container_and_carries_the_password(built: Built) -> None:
    host, port, auth, database = service_view(built.url)
    assert (host, port, database) == (f"{PREFIX}-cache", CACHE_PORT, 0)
    assert auth == ("default", built.password)
    assert built.container["command"] == ["redis-server", CONFIG_FILE]


def test_a_client_without_the_password_is_refused(server: RedisServer) -> None:
    with connect("127.0.0.1", server.port) as client:
        with pytest.raises(RespError, match=r"^NOAUTH"):
            client.command("PING")
        with pytest.raises(RespError, match=r"^NOAUTH"):
            client.command("GET", "anything")
        with pytest.raises(RespError, match=r"^WRONGPASS"):
            client.command("AUTH", "not-the-password")
        with pytest.raises(RespError, match=r"^NOAUTH"):
            client.command("PING")


def test_the_service_connects_with_the_url_it_receives(built: Built, server: RedisServer) -> None:
    _, _, auth, database = service_view(built.url)
    with connect("127.0.0.1", server.port) as client:
        assert client.command("AUTH", *auth) == "OK"
        assert client.command("SELECT", str(database)) == "OK"
        assert client.command("SET", "greeting", "hello") == "OK"
        assert client.command("GET", "greeting") == b"hello"


def test_persistence_is_on_and_data_survives_a_restart(
    built: Built, server: RedisServer, tmp_path: Path
) -> None:
    _, _, auth, _ = service_view(built.url)
    with connect("127.0.0.1", server.port) as client:
        client.command("AUTH", *auth)
        assert client.command("CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
        assert client.command("CONFIG", "GET", "save") == [b"save", RDB_SAVE.encode()]
        assert client.command("CONFIG", "GET", "dir") == [b"dir", str(tmp_path).encode()]
        assert client.command("SET", "order:1", "paid") == "OK"
    server.stop()
    assert (tmp_path / "appendonlydir").is_dir()
    again = start_redis(tmp_path, server.config_file.read_text(), server.port)
    try:
        with connect("127.0.0.1", again.port) as client:
            with pytest.raises(RespError, match=r"^NOAUTH"):
                client.command("GET", "order:1")
            client.command("AUTH", *auth)
            assert client.command("GET", "order:1") == b"paid"
    finally:
        again.stop()


def test_the_password_is_only_in_the_secret_upload(built: Built) -> None:
    """Command, environment, labels and health check carry no secret (they are plain in
    state); the config file is the only place the server reads it from."""
    plain = {k: v for k, v in built.container.items() if k != "uploads"}
    assert built.password not in repr(plain)
    assert built.volume["name"] == f"{PREFIX}-cache-data"
    [volume] = built.container["volumes"]
    assert volume["containerPath"] == "/data"


def test_a_snapshot_restores_by_the_documented_script(
    built: Built, server: RedisServer, tmp_path: Path
) -> None:
    """docs/cache.md's local restore: SAVE writes the snapshot; with the server stopped,
    `restore_script` makes it the data; the server starts from it, and keeps writes made after
    the restore across another restart. A `dump.rdb` simply copied in is ignored (AOF is on):
    the reason the script exists."""
    _, _, auth, _ = service_view(built.url)
    with connect("127.0.0.1", server.port) as client:
        client.command("AUTH", *auth)
        client.command("SET", "order:1", "paid")
        assert client.command("SAVE") == "OK"
        client.command("SET", "order:1", "refunded")  # after the snapshot
    snapshot = tmp_path.parent / f"{tmp_path.name}-snapshot.rdb"
    shutil.copy(tmp_path / "dump.rdb", snapshot)
    server.stop()
    config = server.config_file.read_text()

    # Copied in next to the append-only files, the snapshot is not what the server loads.
    shutil.copy(snapshot, tmp_path / "dump.rdb")
    again = start_redis(tmp_path, config, server.port)
    try:
        with connect("127.0.0.1", again.port) as client:
            client.command("AUTH", *auth)
            assert client.command("GET", "order:1") == b"refunded"
    finally:
        again.stop()

    script = restore_script(str(snapshot), data_dir=str(tmp_path))
    subprocess.run(["sh", "-c", script], check=True)
    assert [p.name for p in tmp_path.glob("appendonlydir.before-restore-*")]
    for round_ in ("restored", "restarted"):
        again = start_redis(tmp_path, config, server.port)
        try:
            with connect("127.0.0.1", again.port) as client:
                client.command("AUTH", *auth)
                assert client.command("GET", "order:1") == b"paid", round_
                if round_ == "restored":
                    client.command("SET", "order:2", "new")
                else:
                    assert client.command("GET", "order:2") == b"new"
        finally:
            again.stop()


def test_the_health_check_pings_with_the_password_from_the_file(
    built: Built, server: RedisServer, tmp_path: Path
) -> None:
    """The container's health check, run as Docker runs a CMD-SHELL test (`sh -c`), against
    the server; it fails when the file's password is wrong."""
    kind, script = built.container["healthcheck"]["tests"]
    assert kind == "CMD-SHELL"
    assert script == health_command("redis-cli")[1]
    local = health_command("redis-cli", str(server.config_file), server.port)[1]
    assert subprocess.run(["sh", "-c", local], check=False).returncode == 0
    wrong = tmp_path / "wrong.conf"
    wrong.write_text(server_config(secrets.token_urlsafe(30)))
    local = health_command("redis-cli", str(wrong), server.port)[1]
    assert subprocess.run(["sh", "-c", local], check=False).returncode != 0


def test_a_password_the_file_or_url_cannot_carry_is_refused_without_showing_it() -> None:
    for bad in ("short", "has space in it 12345", 'quote"in-it-1234567890', "a@b:c/d?e#f12345678"):
        with pytest.raises(CachePasswordError) as info:
            server_config(bad)
        assert bad not in str(info.value)
        with pytest.raises(CachePasswordError):
            cache_url(bad, "cache")
