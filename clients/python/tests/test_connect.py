"""Connecting: every address of a name is tried (RFC 8305 Happy Eyeballs)
within connect_timeout, and the errors of a failed connect or login name
the cause and the fix: a listener of the other wire format, the broker's
refusal line, a wrong secret, a bad name, a connection to oneself.

A test name (``mp-test.invalid``) is made to resolve to chosen addresses by
replacing ``socket.getaddrinfo``, which asyncio's resolver calls, so the
tests do not depend on the machine's /etc/hosts (whose ``localhost`` may
give ::1 or 127.0.0.1 first)."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import DEFAULT_LISTENERS, T, Broker, BrokerFactory

import mpclient
from mpclient import sync

TEST_HOST = "mp-test.invalid"


def resolve_to(monkeypatch: pytest.MonkeyPatch, addrs: list[tuple[str, int]]) -> None:
    """Make TEST_HOST resolve to ``addrs``, in that order (IPv4 or IPv6
    literals); every other name resolves as usual."""
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != TEST_HOST:
            return real(host, port, *args, **kwargs)
        out = []
        for ip, p in addrs:
            if ":" in ip:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, p, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, p)))
        return out

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening
    (so no other process can take it meanwhile)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose connects get no answer at all, as an address
    behind a firewall that drops packets: a listener with a backlog of 0
    whose accept queue is filled and never accepted, so the kernel drops
    every further SYN. Each filling connect is bounded by a poll."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(16):
            s = socket.socket()
            s.setblocking(False)
            fillers.append(s)
            s.connect_ex(("127.0.0.1", port))
            _, writable, _ = select.select([], [s], [], 0.3)
            if not writable:
                break  # this one hangs: the queue is full
        else:
            pytest.skip("could not fill a loopback listen queue on this kernel")
        yield port
    finally:
        for s in fillers:
            s.close()
        lsock.close()


def passwd_alice(b: Broker) -> None:
    b.write_file("passwd", b.passwd_entry("alice", "s3cret") + "\n")


PASSWD_BODY = (
    'authenticators = ( { module = "auth_passwd.so"; options = { file = "@DIR@/passwd"; }; } );\n'
    + DEFAULT_LISTENERS
)


def broker_port(broker: Broker, translator: str = "binary") -> int:
    return int(broker.address(translator).rsplit(":", 1)[1])


# ----------------------------------------------------------------------------
# Every address of a name


async def test_first_address_refuses(
    broker: Broker, refusing_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve_to(monkeypatch, [("127.0.0.1", refusing_port), ("127.0.0.1", broker_port(broker))])
    client = await asyncio.wait_for(
        mpclient.connect(f"tcp:{TEST_HOST}:{broker_port(broker)}", "alice", b"x"), T(5)
    )
    assert client.logged_in
    await asyncio.wait_for(client.close(), T(5))


async def test_first_address_never_answers(
    broker: Broker, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first address eats no more than its head start (250 ms): the
    # next one is tried alongside it, long before connect_timeout.
    resolve_to(monkeypatch, [("127.0.0.1", silent_port), ("127.0.0.1", broker_port(broker))])
    start = time.monotonic()
    client = await asyncio.wait_for(
        mpclient.connect(
            f"tcp:{TEST_HOST}:{broker_port(broker)}", "alice", b"x", connect_timeout=T(4)
        ),
        T(5),
    )
    assert client.logged_in
    assert time.monotonic() - start < T(3)
    await asyncio.wait_for(client.close(), T(5))


def test_first_address_refuses_sync(
    broker: Broker, refusing_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The blocking facade runs the same connect on its own loop.
    resolve_to(monkeypatch, [("127.0.0.1", refusing_port), ("127.0.0.1", broker_port(broker))])
    with sync.connect(
        f"tcp:{TEST_HOST}:{broker_port(broker)}", "alice", b"x", timeout=T(5)
    ) as client:
        assert client.client.logged_in


async def test_ipv6_first_with_an_ipv4_broker(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # localhost on a stock Debian /etc/hosts: ::1 first, and the broker
    # listens on 127.0.0.1 only (no IPv6 at all works as well: the ::1
    # attempt fails at once).
    port = broker_port(broker)
    resolve_to(monkeypatch, [("::1", port), ("127.0.0.1", port)])
    client = await asyncio.wait_for(
        mpclient.connect(f"tcp:{TEST_HOST}:{port}", "alice", b"x"), T(5)
    )
    assert client.logged_in
    await asyncio.wait_for(client.close(), T(5))


async def test_every_address_fails_names_each(
    refusing_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    try:
        second = other.getsockname()[1]
        resolve_to(monkeypatch, [("127.0.0.1", refusing_port), ("127.0.0.1", second)])
        with pytest.raises(mpclient.ConnectError) as info:
            await asyncio.wait_for(
                mpclient.connect(f"tcp:{TEST_HOST}:{second}", "alice", b"x"), T(5)
            )
    finally:
        other.close()
    text = str(info.value)
    assert f"tcp:{TEST_HOST}:{second}" in text
    assert "2 addresses" in text
    assert f"127.0.0.1:{refusing_port}: Connection refused" in text
    assert f"127.0.0.1:{second}: Connection refused" in text
    assert "is the broker running" in text


async def test_unknown_host_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # The resolver's answer is made here: no DNS is asked (or waited for).
    def no_such_host(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(mpclient.ConnectError) as info:
        await asyncio.wait_for(mpclient.connect("tcp:no-such-host.invalid:7330", "alice"), T(5))
    assert "cannot resolve 'no-such-host.invalid'" in str(info.value)
    assert "check the host name" in str(info.value)


async def test_timeout_names_the_addresses_tried(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve_to(monkeypatch, [("127.0.0.1", silent_port)])
    with pytest.raises(mpclient.ConnectTimeout) as info:
        await asyncio.wait_for(
            mpclient.connect(
                f"tcp:{TEST_HOST}:{silent_port}", "alice", b"x", connect_timeout=T(0.6)
            ),
            T(5),
        )
    text = str(info.value)
    assert "connect_timeout" in text
    assert f"127.0.0.1:{silent_port}: no answer yet" in text


# ----------------------------------------------------------------------------
# Errors that name the cause and the fix


async def test_binary_client_on_a_json_listener(broker: Broker) -> None:
    with pytest.raises(mpclient.ConnectError) as info:
        await asyncio.wait_for(
            mpclient.connect(broker.address("json"), "alice", b"x", format="binary"), T(5)
        )
    text = str(info.value)
    assert "answered in JSON" in text and "format='json'" in text, text
    assert "2065845609" not in text


async def test_json_client_on_a_binary_listener(broker: Broker) -> None:
    with pytest.raises(mpclient.ConnectError) as info:
        await asyncio.wait_for(
            mpclient.connect(broker.address("binary"), "alice", b"x", format="json"), T(5)
        )
    text = str(info.value)
    assert "answered in the binary format" in text and "format='binary'" in text, text


@pytest.mark.parametrize("fmt", ["json", "binary"])
async def test_the_brokers_refusal_line(fmt: str) -> None:
    # A listener that does not recognise the client's wire format writes
    # one text line before closing; the client shows it.
    line = b"mpbroker: unknown wire format; this listener speaks: gob\n"

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(line)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(mpclient.ConnectError) as info:
            await asyncio.wait_for(
                mpclient.connect(f"tcp:127.0.0.1:{port}", "alice", b"x", format=fmt), T(5)
            )
    finally:
        server.close()
        await server.wait_closed()
    text = str(info.value)
    assert "this listener speaks: gob" in text and f"({fmt})" in text, text
    assert "use a format=" in text


async def test_wrong_secret_says_what_to_check(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(PASSWD_BODY, setup=passwd_alice)
    with pytest.raises(mpclient.AuthError) as info:
        await asyncio.wait_for(
            mpclient.connect(broker.address("binary"), "alice", b"wrong"), T(5)
        )
    assert info.value.reason == "invalid name or secret"
    assert "no user 'alice' with this secret" in str(info.value)
    assert "check the name and the secret" in str(info.value)


def test_bad_name_says_what_a_name_is() -> None:
    with pytest.raises(ValueError) as info:
        mpclient.Client("tcp:127.0.0.1:7330", "a:b")
    text = str(info.value)
    assert "'a:b'" in text and "contains ':'" in text and "choose another" in text


async def test_connection_to_oneself_says_what_to_do(broker: Broker) -> None:
    client = await asyncio.wait_for(mpclient.connect(broker.address(), "me", b"x"), T(5))
    try:
        with pytest.raises(ValueError) as info:
            await client.open("me", "echo")
        text = str(info.value)
        assert "'me' is this client's own name" in text
        assert "another name" in text
    finally:
        await asyncio.wait_for(client.close(), T(5))
