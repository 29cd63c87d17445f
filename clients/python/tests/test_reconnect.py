"""Reconnecting (``reconnect=True``) against the real broker: kill -9 and
restart it (same port, same Unix path) under a listening client and a
connecting one, the backoff's delays, the errors that stop the attempts
(an auth failure, a name taken), Replaced (never reconnected), GoingAway
(at once, to the next address), several addresses, what fails at once
while disconnected, examples/echo.py's -r, and the blocking facade.

The delays are kept small (20 ms to start) so that the suite stays fast;
every wait is on an event or a future, bounded."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import ALLOW_ALL, DEFAULT_LISTENERS, PACKAGE_DIR, T, Broker, BrokerFactory

import mpclient
from mpclient import Connection, Message, Meta
from mpclient.codec import BINARY
from mpclient.client import _retryable

X = TypeVar("X")

#: Small delays: the first attempt is at once, the next after 10-20 ms.
FAST = {"reconnect": True, "reconnect_initial": 0.02, "reconnect_max": 0.1}


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    """Every wait is bounded."""
    return await asyncio.wait_for(aw, T(seconds))


async def echo(conn: Connection) -> None:
    async for msg in conn:
        await conn.send(msg)


class Watcher:
    """The three reconnect callbacks of one client, recorded, with events
    to wait on (set from the client's loop)."""

    def __init__(self) -> None:
        self.lost: list[mpclient.BrokerLost] = []
        self.attempts: list[tuple[int, float, float]] = []  # attempt, delay, when
        self.reconnects = 0
        self.disconnected = asyncio.Event()
        self.reconnected = asyncio.Event()

    def options(self) -> dict[str, Any]:
        return {
            "on_disconnected": self.on_disconnected,
            "on_reconnecting": self.on_reconnecting,
            "on_reconnected": self.on_reconnected,
        }

    def on_disconnected(self, error: mpclient.BrokerLost) -> None:
        self.lost.append(error)
        self.reconnected.clear()
        self.disconnected.set()

    def on_reconnecting(self, attempt: int, delay: float) -> None:
        self.attempts.append((attempt, delay, time.monotonic()))

    def on_reconnected(self) -> None:
        self.reconnects += 1
        self.disconnected.clear()
        self.reconnected.set()


def restart_listeners(b: Broker) -> str:
    """The listeners of ``b`` again, on the ports it had (and its Unix
    path), for a broker restarted in its place."""
    tcp = {l.translator: l.port for l in b.listeners if l.scheme == "tcp"}
    return (
        "listeners = (\n"
        f'  {{ address = "127.0.0.1"; port = {tcp["json"]}; translator = "json"; }},\n'
        f'  {{ address = "127.0.0.1"; port = {tcp["binary"]}; translator = "binary"; }},\n'
        f'  {{ unix = "{b.dir}/mp.sock"; translator = "auto"; }} );\n'
    )


class Restarter:
    """Kill -9 a broker and start another in its place: same directory,
    same ports, same Unix path."""

    def __init__(self) -> None:
        self.brokers: list[Broker] = []

    def kill(self, b: Broker) -> None:
        b.kill()  # SIGKILL: no GoingAway, no goodbye

    def restart(self, old: Broker, head: str = ALLOW_ALL) -> Broker:
        new = Broker(Path(old.dir))
        self.brokers.append(new)
        return new.start(head + restart_listeners(old))


@pytest.fixture
def restarter(broker_factory: BrokerFactory) -> Iterator[Restarter]:
    # Depends on broker_factory so that the brokers restarted here stop
    # before the factory removes their directories.
    r = Restarter()
    yield r
    try:
        for b in r.brokers:
            b.stop()
    finally:
        for b in r.brokers:
            b.kill()


async def next_online(client: mpclient.Client, name: str) -> None:
    """Take presence notices until ``name`` is reported online."""
    while await client.next_presence() != mpclient.PresenceEvent(name, True):
        pass


# ----------------------------------------------------------------------------
# A broker restart


@pytest.mark.parametrize("server_scheme", ["tcp", "unix"])
async def test_kill_and_restart_both_clients_recover(
    broker: Broker, restarter: Restarter, server_scheme: str
) -> None:
    """A listening client and a connecting one (one over TCP, the other
    over the Unix socket) ride out a kill -9 and restart of the broker,
    and talk again; the lost session's connection ended, and what needs
    the broker fails at once meanwhile."""
    client_scheme = "unix" if server_scheme == "tcp" else "tcp"
    srv_w, cli_w = Watcher(), Watcher()
    server = await within(
        mpclient.connect(
            broker.address("auto" if server_scheme == "unix" else "binary", server_scheme),
            "srv", b"x", handlers={"echo": echo}, **FAST, **srv_w.options(),
        )
    )
    client = await within(
        mpclient.connect(
            broker.address("auto" if client_scheme == "unix" else "binary", client_scheme),
            "cli", b"x", **FAST, **cli_w.options(),
        )
    )
    await within(client.watch("srv"))
    assert await within(client.next_presence()) == mpclient.PresenceEvent("srv", True)
    conn = await within(client.open("srv", "echo"))
    await within(conn.send(b"before"))
    assert await within(conn.recv()) == b"before"

    restarter.kill(broker)
    await within(cli_w.disconnected.wait())
    await within(srv_w.disconnected.wait())
    assert client.reconnecting and not client.logged_in
    lost = cli_w.lost[0]
    assert isinstance(lost, mpclient.BrokerLost) and not isinstance(lost, mpclient.Disconnected)
    # The session's connection ended for good; nothing waits for the broker.
    with pytest.raises(mpclient.BrokerLost):
        await within(conn.recv())
    assert conn.close_reason is mpclient.CloseReason.BROKER_LOST
    started = time.monotonic()
    with pytest.raises(mpclient.BrokerLost):
        await within(conn.send(b"lost"))
    with pytest.raises(mpclient.Disconnected):
        await within(client.open("srv", "echo"))
    with pytest.raises(mpclient.Disconnected):
        await within(client.request("srv", "echo", b"?", timeout=T(5)))
    with pytest.raises(mpclient.Disconnected):
        await within(client.list(""))
    assert time.monotonic() - started < T(1), "a call while disconnected waited"
    assert client.connections == []

    await asyncio.to_thread(restarter.restart, broker)
    await within(cli_w.reconnected.wait())
    await within(srv_w.reconnected.wait())
    assert client.logged_in and server.logged_in
    assert cli_w.attempts[0][:2] == (1, 0.0)
    # The handler is still registered, the watch was sent again.
    await within(next_online(client, "srv"))
    assert client.watches == [("srv", False)]
    again = await within(client.open("srv", "echo"))
    await within(again.send(b"after"))
    assert await within(again.recv()) == b"after"
    assert await within(client.request("srv", "echo", b"asked", timeout=T(5))) == b"asked"
    assert conn.closed and again.id != conn.id
    await within(client.close())
    await within(server.close())
    await within(client.wait_closed())  # closed by us: no exception
    assert cli_w.reconnects == 1 and srv_w.reconnects == 1


async def silent_peer(address: str, name: str) -> socket.socket:
    """A peer that logs in (binary, level 1) and then never answers: a
    Syn to it stays pending."""
    host, port = address.split(":")[1:]
    sock = await asyncio.to_thread(socket.create_connection, (host, int(port)), T(5))
    sock.sendall(BINARY.encode(Message(Meta.AUTH, name, "", b"x")))
    sock.settimeout(T(5))
    assert await asyncio.to_thread(sock.recv, 65536)  # the AuthOk
    return sock


async def test_pending_open_fails_when_the_broker_is_lost(
    broker: Broker, restarter: Restarter
) -> None:
    """An open() waiting for its peer's answer fails with BrokerLost when
    the session is lost: it is not carried over to the next session."""
    w = Watcher()
    silent = await silent_peer(broker.address(), "silent")
    client = await within(mpclient.connect(broker.address(), "cli", b"x", **FAST, **w.options()))
    opening = asyncio.create_task(client.open("silent", "p"))
    while not client.connections:  # the Syn is out
        await asyncio.sleep(0)
    restarter.kill(broker)
    with pytest.raises(mpclient.BrokerLost) as info:
        await within(opening)
    assert not isinstance(info.value, mpclient.Disconnected)
    await within(w.disconnected.wait())
    silent.close()
    await within(client.close())


async def test_serve_loop_runs_across_a_restart(broker: Broker, restarter: Restarter) -> None:
    """wait_closed(), the serve loop, keeps waiting while the client
    reconnects, and returns once it is closed."""
    w = Watcher()
    server = await within(
        mpclient.connect(broker.address(), "srv", b"x", **FAST, **w.options())
    )
    serving = asyncio.create_task(server.wait_closed())
    restarter.kill(broker)
    await within(w.disconnected.wait())
    await asyncio.to_thread(restarter.restart, broker)
    await within(w.reconnected.wait())
    assert not serving.done()
    await within(server.close())
    await within(serving)


# ----------------------------------------------------------------------------
# The backoff


def test_reconnect_delay_bounds() -> None:
    assert mpclient.reconnect_delay(1, 0.1, 10) == 0.0
    for attempt in range(2, 40):
        base = min(10.0, 0.1 * 2 ** (attempt - 2))
        for _ in range(50):
            d = mpclient.reconnect_delay(attempt, 0.1, 10)
            assert base * 0.5 <= d <= base
    assert mpclient.reconnect_delay(10**6, 0.1, 10) <= 10.0  # no overflow


async def test_backoff_delays_observed_within_bounds(broker: Broker, restarter: Restarter) -> None:
    """With the broker gone for good: attempt 1 at once, then delays that
    double from reconnect_initial up to reconnect_max, each scaled by
    [0.5, 1], each waited; after reconnect_max_attempts the client gives
    up and wait_closed() raises the last attempt's error."""
    w = Watcher()
    initial, maximum, attempts = 0.02, 0.05, 6
    client = await within(
        mpclient.connect(
            broker.address(), "cli", b"x", reconnect=True, reconnect_initial=initial,
            reconnect_max=maximum, reconnect_max_attempts=attempts, **w.options(),
        )
    )
    restarter.kill(broker)
    with pytest.raises(mpclient.ConnectError) as info:
        await within(client.wait_closed())
    assert "cannot connect" in str(info.value)
    assert client.lost_reason is not None
    assert client.lost_reason.startswith(f"gave up after {attempts} reconnect attempts")
    assert not client.reconnecting and not client.logged_in
    assert [a for a, _, _ in w.attempts] == list(range(1, attempts + 1))
    assert w.attempts[0][1] == 0.0
    for n, delay, _ in w.attempts[1:]:
        base = min(maximum, initial * 2 ** (n - 2))
        assert base * 0.5 <= delay <= base, (n, delay)
    # Each attempt waited its delay: the next one is announced no sooner.
    for (_, delay, announced), (_, _, next_announced) in zip(w.attempts, w.attempts[1:]):
        assert next_announced - announced >= delay - 0.002
    # Given up: what needs the broker says so.
    with pytest.raises(mpclient.BrokerLost):
        await within(client.open("x", "p"))


async def test_close_while_reconnecting(broker: Broker, restarter: Restarter) -> None:
    w = Watcher()
    client = await within(
        mpclient.connect(
            broker.address(), "cli", b"x", reconnect=True, reconnect_initial=5.0,
            reconnect_max=5.0, **w.options(),
        )
    )
    restarter.kill(broker)
    await within(w.disconnected.wait())
    assert client.reconnecting
    await within(client.close(), 2)  # does not wait for the 5 s delay
    assert not client.reconnecting
    await within(client.wait_closed())
    with pytest.raises(mpclient.ConnectionClosed):
        await within(client.open("x", "p"))


# ----------------------------------------------------------------------------
# What stops the attempts


def test_which_errors_are_retried() -> None:
    assert _retryable(mpclient.ConnectError("refused"))
    assert _retryable(mpclient.ConnectTimeout("slow"))
    assert _retryable(
        mpclient.AuthError("too many failed logins from this address; try again later")
    )
    assert _retryable(mpclient.AuthError("cluster registry unavailable; try again later"))
    assert not _retryable(mpclient.AuthError("invalid name or secret"))
    assert not _retryable(mpclient.NameTaken("name already in use"))
    assert not _retryable(mpclient.TLSError("bad certificate"))
    assert not _retryable(mpclient.ConnectError("wrong format", permanent=True))


def passwd_setup(b: Broker) -> None:
    b.write_file("passwd", b.passwd_entry("alice", "s3cret") + "\n")


PASSWD = 'authenticators = ( { module = "auth_passwd.so"; options = { file = "@DIR@/passwd"; }; } );\n'


async def test_auth_failure_at_relogin_stops(
    broker_factory: BrokerFactory, restarter: Restarter
) -> None:
    """The broker comes back with alice's secret changed: the first login
    it refuses ends the attempts, and wait_closed() raises the AuthError."""
    broker = broker_factory(PASSWD + DEFAULT_LISTENERS, setup=passwd_setup)
    w = Watcher()
    client = await within(
        mpclient.connect(broker.address(), "alice", b"s3cret", **FAST, **w.options())
    )
    restarter.kill(broker)
    await within(w.disconnected.wait())
    broker.write_file("passwd", broker.passwd_entry("alice", "changed") + "\n")
    head = PASSWD.replace("@DIR@", str(broker.dir))
    await asyncio.to_thread(restarter.restart, broker, head)
    with pytest.raises(mpclient.AuthError) as info:
        await within(client.wait_closed())
    assert info.value.reason == "invalid name or secret"
    assert not isinstance(info.value, mpclient.NameTaken)
    assert not client.reconnecting and w.reconnects == 0
    tried = len(w.attempts)
    assert "invalid name or secret" in (client.lost_reason or "")
    # Given up for good: no attempt follows.
    assert client._reconnect_task is not None and client._reconnect_task.done()
    assert len(w.attempts) == tried


REJECT = 'duplicate_names = "reject";\n'


async def test_name_taken_at_relogin_stops(broker_factory: BrokerFactory, restarter: Restarter) -> None:
    """Two brokers; the second rejects duplicate names and already has an
    "alice". alice loses the first: her attempt at the second is refused
    with NameTaken, which ends the attempts."""
    first = broker_factory()
    second = broker_factory(REJECT + ALLOW_ALL + DEFAULT_LISTENERS)
    thief = await within(mpclient.connect(second.address(), "alice", b"x"))
    # At a first login too, and still an AuthError.
    with pytest.raises(mpclient.NameTaken) as taken:
        await within(mpclient.connect(second.address(), "alice", b"x"))
    assert isinstance(taken.value, mpclient.AuthError)
    assert taken.value.reason == "name already in use"
    w = Watcher()
    alice = await within(
        mpclient.connect([first.address(), second.address()], "alice", b"x", **FAST, **w.options())
    )
    assert alice.address == first.address()
    restarter.kill(first)
    with pytest.raises(mpclient.NameTaken):
        await within(alice.wait_closed())
    assert [(a, d) for a, d, _ in w.attempts] == [(1, 0.0)]
    assert alice.address == second.address()
    await within(thief.close())


async def test_replaced_is_not_reconnected(broker: Broker) -> None:
    w = Watcher()
    first = await within(
        mpclient.connect(broker.address(), "alice", b"x", **FAST, **w.options())
    )
    second = await within(mpclient.connect(broker.address(), "alice", b"x"))
    with pytest.raises(mpclient.Replaced):
        await within(first.wait_closed())
    assert w.lost == [] and w.attempts == []
    await within(second.close())


# ----------------------------------------------------------------------------
# Several addresses, GoingAway


async def test_two_addresses_the_first_dead(broker: Broker) -> None:
    dead = f"unix:{broker.dir}/nobody-listens.sock"
    client = await within(mpclient.connect([dead, broker.address()], "cli", b"x"))
    assert client.address == broker.address()
    assert client.addresses == [dead, broker.address()]
    await within(client.close())
    # All dead: the error names each.
    other = f"unix:{broker.dir}/nor-here.sock"
    with pytest.raises(mpclient.ConnectError) as info:
        await within(mpclient.connect([dead, other], "cli", b"x"))
    assert "nobody-listens.sock" in str(info.value) and "nor-here.sock" in str(info.value)


async def test_going_away_reconnects_at_once_to_the_next(broker_factory: BrokerFactory) -> None:
    """A broker that shuts down says GoingAway and closes: the client goes
    to the next address at once (its reconnect_initial of 5 s is not
    waited)."""
    leaving = broker_factory("shutdown_grace_ms = 100;\n" + ALLOW_ALL + DEFAULT_LISTENERS)
    staying = broker_factory()
    w = Watcher()
    client = await within(
        mpclient.connect(
            [leaving.address(), staying.address()], "cli", b"x", reconnect=True,
            reconnect_initial=5.0, reconnect_max=5.0, **w.options(),
        )
    )
    stopping = threading.Thread(target=leaving.stop)
    stopping.start()
    await within(w.reconnected.wait(), 3)
    assert isinstance(w.lost[0], mpclient.GoingAway)
    assert [(a, d) for a, d, _ in w.attempts] == [(1, 0.0)]
    assert client.address == staying.address() and client.logged_in
    assert client.going_away is None  # the new session's broker stays
    await within(client.close())
    await asyncio.to_thread(stopping.join, T(15))


# ----------------------------------------------------------------------------
# examples/echo.py server -r


async def read_until(stream: asyncio.StreamReader | None, text: str) -> None:
    assert stream is not None
    seen: list[str] = []
    while not seen or text not in seen[-1]:
        raw = await within(stream.readline())
        if not raw:
            pytest.fail(f"no line with {text!r}; got {seen}")
        seen.append(raw.decode(errors="replace"))


async def test_example_echo_py_server_rides_out_a_restart(
    broker: Broker, restarter: Restarter
) -> None:
    dead = f"unix:{broker.dir}/nobody-listens.sock"
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(PACKAGE_DIR / "examples" / "echo.py"), "server", "-r",
        "-a", dead, "-a", broker.address(), "-s", "x",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await read_until(server.stdout, "waiting for echo connections")
        restarter.kill(broker)
        await read_until(server.stdout, "lost the broker")
        await asyncio.to_thread(restarter.restart, broker)
        await read_until(server.stdout, f"logged in again to {broker.address()}")
        client = await within(mpclient.connect(broker.address(), "cli", b"x"))
        assert await within(client.request("echo", "echo", b"back", timeout=T(5))) == b"back"
        await within(client.close())
        server.send_signal(signal.SIGTERM)
        await within(server.communicate(), 10)
        assert server.returncode == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


# ----------------------------------------------------------------------------
# The blocking facade


def test_sync_facade_reconnect(broker: Broker, restarter: Restarter) -> None:
    from mpclient import sync

    reconnected = {"srv": threading.Event(), "cli": threading.Event()}
    disconnected = {"srv": threading.Event(), "cli": threading.Event()}
    addr = broker.address()

    def options(name: str) -> dict[str, Any]:
        # Called in the client's loop thread: they only set events.
        return {
            **FAST,
            "on_disconnected": lambda error: disconnected[name].set(),
            "on_reconnected": reconnected[name].set,
        }

    with sync.connect(addr, "srv", b"x", timeout=T(10), **options("srv")) as srv:
        srv.handle_requests("upper", lambda data: data.upper())
        with sync.connect(addr, "cli", b"x", timeout=T(10), **options("cli")) as cli:
            assert cli.request("srv", "upper", b"one", timeout=T(5)) == b"ONE"
            restarter.kill(broker)
            assert disconnected["cli"].wait(T(5)) and cli.reconnecting
            with pytest.raises(mpclient.Disconnected):
                cli.request("srv", "upper", b"lost", timeout=T(5))
            restarter.restart(broker)
            assert reconnected["srv"].wait(T(5)) and reconnected["cli"].wait(T(5))
            assert cli.logged_in and not cli.reconnecting
            assert cli.request("srv", "upper", b"two", timeout=T(5)) == b"TWO"
