"""A real Redis server for tests: Debian's `redis-server` on 127.0.0.1, and a minimal RESP2
client over a plain socket (what any Redis client library sends: an array of bulk strings).

`start_redis` writes the given config text to a temporary folder and runs `redis-server
<file>` (the local cache container's own command shape), waiting until it answers. A missing
binary raises `MissingToolError` naming the package (never a skip).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers.registry import MissingToolError

Reply = str | int | bytes | list["Reply"] | None


class RespError(Exception):
    """An error reply (`-NOAUTH ...`, `-WRONGPASS ...`); the message is the reply's text."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RespClient:
    """One connection; `command` sends one command and reads one reply."""

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._reader = self._socket.makefile("rb")

    def close(self) -> None:
        self._reader.close()
        self._socket.close()

    def command(self, *args: str) -> Reply:
        payload = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            payload.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self._socket.sendall(b"".join(payload))
        return self._read()

    def _read(self) -> Reply:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError(f"connection closed mid-reply: {line!r}")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            raise RespError(body.decode())
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            data = self._reader.read(size + 2)
            return data[:-2]
        if kind == b"*":
            count = int(body)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise ConnectionError(f"not a RESP2 reply: {line!r}")


@contextmanager
def connect(host: str, port: int) -> Iterator[RespClient]:
    client = RespClient(host, port)
    try:
        yield client
    finally:
        client.close()


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int
    config_file: Path
    log_file: Path

    def stop(self) -> None:
        """SIGTERM: redis-server flushes the append-only file and writes its RDB on the way out."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def start_redis(folder: Path, config: str, port: int, wait_seconds: float = 20) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        raise MissingToolError("redis-server not found: apt-get install redis-server")
    config_file = folder / "cache.conf"
    config_file.write_text(config)
    config_file.chmod(0o400)
    log_file = folder / "redis.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen([binary, str(config_file)], stdout=log, stderr=subprocess.STDOUT)
    server = RedisServer(process, port, config_file, log_file)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited {process.returncode}: {log_file.read_text()}")
        try:
            with connect("127.0.0.1", port) as client:
                client.command("PING")
        except RespError:
            return server  # it answers (NOAUTH): up
        except OSError:
            time.sleep(0.05)
            continue
        return server
    server.stop()
    text = log_file.read_text()
    raise RuntimeError(f"redis-server did not answer within {wait_seconds}s: {text}")
