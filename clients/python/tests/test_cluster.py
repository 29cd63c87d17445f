"""The Python client across brokers (doc/cluster.md): a redis-server of
the test's own and two brokers sharing one name space through it, and two
clients on different brokers that open a connection and talk over the
brokers' link exactly as they would through one broker.

Needs redis-server (Debian: apt-get install redis-server;
``MP_REDIS_SERVER`` names another program); without it the test is
skipped, saying so."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import ALLOW_ALL, DEFAULT_LISTENERS, T, Broker, BrokerFactory, short_tmpdir

import mpclient
from mpclient import CloseReason, Connection

REDIS_SERVER = os.environ.get("MP_REDIS_SERVER") or "redis-server"
X = TypeVar("X")


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    """Every wait is bounded."""
    return await asyncio.wait_for(aw, T(seconds))


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    """A redis-server on a free loopback port, without persistence, in a
    directory of its own; its log goes to stdout, read by a thread."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.lines: list[str] = []

    def start(self) -> None:
        # The port was free a moment ago; another process may take it
        # first: then redis-server exits, and another port is tried.
        for _ in range(5):
            self.port = free_port()
            self.lines = []
            ready = threading.Event()
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.dir),
                 "--daemonize", "no", "--logfile", ""],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            threading.Thread(target=self._read, args=(self.proc, ready), daemon=True).start()
            ready.wait(T(10))
            if any("Ready to accept connections" in line for line in self.lines):
                return
            self.stop()
        pytest.fail("redis-server did not start; its log:\n" + "\n".join(self.lines))

    def _read(self, proc: subprocess.Popen[bytes], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if "Ready to accept connections" in line:
                ready.set()
        ready.set()  # EOF: it exited

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(T(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


@dataclass
class Cluster:
    redis: Redis
    brokers: list[Broker]


def cluster_body(redis_port: int, secret_file: str) -> str:
    """What every broker of the cluster adds to the usual test config: the
    same Redis, the same secret, links on a port the kernel picks, and
    short timings so that the test stays quick."""
    return (
        ALLOW_ALL
        + DEFAULT_LISTENERS
        + "cluster = {\n"
        + f'  redis = "tcp:127.0.0.1:{redis_port}";\n'
        + f'  key_prefix = "py{os.getpid()}";\n'
        + "  lease_ms = 3000; fence_ms = 2000; renew_ms = 200;\n"
        + f'  link = {{ address = "127.0.0.1"; port = 0; secret_file = "{secret_file}"; }};\n'
        + "};\n"
    )


@pytest.fixture
def cluster(broker_factory: BrokerFactory) -> Iterator[Cluster]:
    """A redis-server and two brokers registered with it."""
    if shutil.which(REDIS_SERVER) is None:
        pytest.skip(
            f"{REDIS_SERVER} not found (Debian: apt-get install redis-server): "
            "the cluster needs a real Redis"
        )
    scratch = Path(short_tmpdir())
    redis = Redis(scratch)
    brokers: list[Broker] = []
    try:
        redis.start()
        secret = scratch / "cluster.secret"
        secret.write_text(os.urandom(32).hex() + "\n")
        secret.chmod(0o600)
        body = cluster_body(redis.port, str(secret))
        for _ in range(2):
            b = broker_factory(body)
            brokers.append(b)
            if not b.wait_log("cluster: registered", T(10)):
                pytest.fail(f"a broker did not register with Redis; its log:\n{b.log_text()}")
        yield Cluster(redis, brokers)
        # The brokers leave the cluster while Redis still answers: each
        # must exit 0 (broker_factory would stop them after Redis).
        for b in brokers:
            b.stop()
    finally:
        for b in brokers:
            b.kill()
        redis.stop()
        shutil.rmtree(scratch, ignore_errors=True)


async def test_clients_on_two_brokers(cluster: Cluster) -> None:
    b1, b2 = cluster.brokers
    ended: asyncio.Queue[CloseReason | None] = asyncio.Queue()

    async def echo(conn: Connection) -> None:
        async for msg in conn:
            await conn.send(b"echo: " + msg)
        await ended.put(conn.close_reason)

    server = await within(
        mpclient.connect(b2.address("binary"), "srv", b"x", format="binary",
                         handlers={"echo": echo})
    )
    client = await within(mpclient.connect(b1.address("json"), "cli", b"x", format="json"))

    conn = await within(client.open("srv", "echo"))
    assert conn.id == "cli:0" and conn.peer == "srv" and conn.protocol == "echo"
    for msg in [b"hello", b"", bytes(range(256)), "é€😀".encode(), b"x" * 100000]:
        await within(conn.send(msg))
        assert await within(conn.recv()) == b"echo: " + msg
    # Closed on broker 1, seen by the handler on broker 2.
    await within(conn.close())
    assert await within(ended.get()) is CloseReason.BY_PEER

    # The server's process dies: the client on the other broker is told
    # its peer left (ClientClosed, across the link).
    conn = await within(client.open("srv", "echo"))
    await within(conn.send(b"last"))
    assert await within(conn.recv()) == b"echo: last"
    server.abort()
    with pytest.raises(mpclient.PeerLeft):
        await within(conn.recv())
    # Its name is free everywhere: nobody answers to it now.
    with pytest.raises(mpclient.NoSuchClient):
        await within(client.open("srv", "echo"))
    await within(client.close())
