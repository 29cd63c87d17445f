"""TLS listeners: CA verification, hostname verification, client
certificates."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import MAKE_CERTS, T, Broker, BrokerFactory, short_tmpdir

import mpclient
from mpclient import Connection

X = TypeVar("X")


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    return await asyncio.wait_for(aw, T(seconds))


def tls_group(verify: str) -> str:
    return (
        'tls = { cert = "@CERTS@/server.pem"; key = "@CERTS@/server.key"; '
        f'ca = "@CERTS@/ca.pem"; verify_client = "{verify}"; }};'
    )


BODY = (
    'authenticators = ( { module = "auth_allow_all.so"; } );\n'
    "listeners = (\n"
    f'  {{ address = "127.0.0.1"; port = 0; translator = "auto"; {tls_group("optional")} }},\n'
    f'  {{ address = "127.0.0.1"; port = 0; translator = "auto"; {tls_group("required")} }},\n'
    '  { address = "127.0.0.1"; port = 0; translator = "binary"; } );\n'
)


@pytest.fixture(scope="module")
def certs() -> Iterator[Path]:
    """The test certificates (tests/support/make-certs.sh), made once for
    this module: ca.pem, server.pem/key (localhost, 127.0.0.1),
    alice.pem/key, rogue-ca.pem, ..."""
    d = Path(short_tmpdir())
    try:
        subprocess.run(["sh", str(MAKE_CERTS), str(d)], check=True, timeout=T(60),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tls_broker(broker_factory: BrokerFactory, certs: Path) -> Broker:
    broker = broker_factory(BODY.replace("@CERTS@", str(certs)))
    broker.certs = certs  # type: ignore[attr-defined]
    return broker


def cert(broker: Broker, name: str) -> str:
    return str(broker.certs / name)  # type: ignore[attr-defined]


def tls_ports(broker: Broker) -> tuple[int, int]:
    """(the verify_client = optional port, the required one)"""
    ports = [listener.port for listener in broker.listeners if listener.scheme == "tls"]
    assert len(ports) == 2
    return ports[0], ports[1]


async def echo(conn: Connection) -> None:
    async for msg in conn:
        await conn.send(msg)


@pytest.mark.parametrize("fmt", ["json", "binary"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_tls_login_with_ca_verification(tls_broker: Broker, fmt: str, host: str) -> None:
    port, _ = tls_ports(tls_broker)
    ctx = mpclient.tls_context(cert(tls_broker, "ca.pem"))
    server = await within(
        mpclient.connect(f"tls:{host}:{port}", "srv", b"x", format=fmt, ssl=ctx,
                         handlers={"echo": echo})
    )
    # A plain TCP client talks to the TLS one.
    client = await within(mpclient.connect(tls_broker.address("binary"), "cli", b"x"))
    conn = await within(client.open("srv", "echo"))
    await within(conn.send(b"through TLS"))
    assert await within(conn.recv()) == b"through TLS"
    await within(client.close())
    await within(server.close())


async def test_tls_localhost_with_ipv6_first(
    tls_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stock Debian /etc/hosts gives ::1 first for localhost; the broker
    # listens on 127.0.0.1 only. The client moves on to 127.0.0.1 and
    # still checks the certificate against the name, "localhost".
    port, _ = tls_ports(tls_broker)
    real = socket.getaddrinfo

    def v6_first(host: Any, p: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "localhost":
            return real(host, p, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", p, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", p)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", v6_first)
    ctx = mpclient.tls_context(cert(tls_broker, "ca.pem"))
    client = await within(mpclient.connect(f"tls:localhost:{port}", "cli", b"x", ssl=ctx))
    assert client.logged_in
    await within(client.close())


async def test_tls_unknown_ca_is_refused(tls_broker: Broker) -> None:
    port, _ = tls_ports(tls_broker)
    ctx = mpclient.tls_context(cert(tls_broker, "rogue-ca.pem"))
    with pytest.raises(mpclient.TLSError):
        await within(mpclient.connect(f"tls:127.0.0.1:{port}", "cli", ssl=ctx))
    # Without a CA file: the system's CAs, which do not know the test CA.
    with pytest.raises(mpclient.TLSError):
        await within(mpclient.connect(f"tls:127.0.0.1:{port}", "cli"))


async def test_tls_hostname_is_verified(tls_broker: Broker) -> None:
    port, _ = tls_ports(tls_broker)
    ctx = mpclient.tls_context(cert(tls_broker, "ca.pem"))
    with pytest.raises(mpclient.TLSError):
        await within(
            mpclient.connect(f"tls:127.0.0.1:{port}", "cli", ssl=ctx,
                             server_hostname="wrong.example")
        )
    client = await within(
        mpclient.connect(f"tls:127.0.0.1:{port}", "cli", ssl=ctx, server_hostname="localhost")
    )
    await within(client.close())


async def test_tls_client_certificate(tls_broker: Broker) -> None:
    _, required = tls_ports(tls_broker)
    addr = f"tls:127.0.0.1:{required}"
    ctx = mpclient.tls_context(
        cert(tls_broker, "ca.pem"), cert(tls_broker, "alice.pem"), cert(tls_broker, "alice.key")
    )
    client = await within(mpclient.connect(addr, "alice", b"x", ssl=ctx))
    assert client.logged_in
    await within(client.close())
    # Without a certificate the broker ends the handshake.
    bare = mpclient.tls_context(cert(tls_broker, "ca.pem"))
    with pytest.raises(mpclient.ConnectError):
        await within(mpclient.connect(addr, "bob", b"x", ssl=bare))
    assert tls_broker.wait_log("certificate", T(5))


def test_ssl_context_only_for_tls_addresses() -> None:
    with pytest.raises(ValueError):
        mpclient.Client("tcp:127.0.0.1:7330", "alice", ssl=mpclient.tls_context())
