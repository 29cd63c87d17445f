"""Protocol level 2 in the client, without a broker: the new meta values
on the wire (the worked examples of doc/protocol.md), AuthOk's settings,
and the client against a scripted fake broker (tests/hostile.py): credit
per connection, presence and List, Denied, Replaced and GoingAway. The
same features against the real broker are in test_level2_broker.py."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from conftest import T
from hostile import FakeBroker, FakeSession, connect_to

import mpclient
from mpclient import Message, Meta, sync
from mpclient.codec import decode_binary, decode_json, encode_binary, encode_json
from mpclient.protocol import Settings, parse_credit, parse_settings

FORMATS = ["binary", "json"]
X = TypeVar("X")

#: A small window, so that a few messages use it up: 1000 bytes, two watches.
SETTINGS = b"level=2 window=1000 watches=2"


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    return await asyncio.wait_for(aw, T(seconds))


async def expect(session: FakeSession, count: int) -> list[Message]:
    """The next ``count`` messages the client sent to the fake broker."""
    return await asyncio.to_thread(session.read, count, T(5))


async def send_all(session: FakeSession, data: bytes) -> None:
    """Send ``data`` from the fake broker and wait until it went."""
    assert await asyncio.to_thread(session.send(data).wait, T(5))


async def settle() -> None:
    """Let the client's tasks run until they wait for something (no
    sleeping: a few turns of the event loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def level2_client(
    fake: FakeBroker, name: str = "me", **options: Any
) -> tuple[mpclient.Client, FakeSession]:
    client = mpclient.Client(fake.address, name, format=fake.fmt, **options)
    session = await connect_to(fake, client, small_send_buffer=False)
    return client, session


async def opened(
    client: mpclient.Client, session: FakeSession, peer: str = "bob"
) -> mpclient.Connection:
    """Open a connection to ``peer`` through the fake broker (which acks
    it on the peer's behalf)."""
    opening = asyncio.ensure_future(client.open(peer, "p"))
    (syn,) = await expect(session, 1)
    assert syn.meta == Meta.CONN_SYN and syn.other_client == peer
    session.send(session.frame(Meta.CONN_ACK, peer, syn.connection_id))
    return await within(opening)


# ----------------------------------------------------------------------------
# The wire: doc/protocol.md's examples


def test_auth_ok_settings_worked_example() -> None:
    line = (
        b'{"Meta":9,"OtherClient":"alice","ConnectionID":"",'
        b'"Data":"bGV2ZWw9MiB3aW5kb3c9MjYyMTQ0IHdhdGNoZXM9NjQ="}\n'
    )
    (msg,) = decode_json(line)
    assert msg.data == b"level=2 window=262144 watches=64"
    assert parse_settings(msg.data) == Settings(2, 262144, 64)
    assert encode_json(msg) == line


@pytest.mark.parametrize(
    "data,settings",
    [
        (None, Settings(1, 0, 0)),  # a level-1 AuthOk
        (b"watches=8 level=2 window=4096", Settings(2, 4096, 8)),  # any order
        (b"level=2 window=4096 watches=8 colour=blue x", Settings(2, 4096, 8)),  # unknown keys
        (b"level=2", Settings(2, 262144, 64)),  # the broker's defaults
        (b"level=3 window=10 watches=1", Settings(3, 10, 1)),
        (b"level=1 window=4096", Settings(1, 0, 0)),
        (b"", Settings(1, 0, 0)),
        (b"level=2 window=-5 watches=x", Settings(2, 262144, 64)),  # not decimal: ignored
        (b"level=2 window=0", Settings(2, 1, 64)),
        (b"level=2 window=99999999999", Settings(2, 2147483647, 64)),
    ],
)
def test_parse_settings(data: bytes | None, settings: Settings) -> None:
    assert parse_settings(data) == settings


@pytest.mark.parametrize(
    "data,grant",
    [
        (b"131072", 131072),
        (b"1", 1),
        (b"2147483647", 2147483647),
        (b"2147483648", None),
        (b"0", None),
        (b"007", None),
        (b"+5", None),
        (b"-5", None),
        (b"", None),
        (None, None),
        (b"12 ", None),
        (b"99999999999", None),
    ],
)
def test_parse_credit(data: bytes | None, grant: int | None) -> None:
    assert parse_credit(data) == grant


def test_credit_worked_example() -> None:
    credit = Message(Meta.CREDIT, "bob", "alice:0", b"131072")
    wire = bytes.fromhex("00000014 0b 01 03 07 626f62 616c6963653a30 313331303732")
    assert encode_binary(credit) == wire and len(wire) == 24
    assert decode_binary(wire) == [credit]
    line = b'{"Meta":11,"OtherClient":"alice","ConnectionID":"alice:0","Data":"MTMxMDcy"}\n'
    assert decode_json(line) == [Message(Meta.CREDIT, "alice", "alice:0", b"131072")]
    assert encode_json(Message(Meta.CREDIT, "alice", "alice:0", b"131072")) == line


@pytest.mark.parametrize(
    "line,msg",
    [
        (
            b'{"Meta":12,"OtherClient":"bob","ConnectionID":"","Data":null}\n',
            Message(Meta.WATCH, "bob"),
        ),
        (
            b'{"Meta":12,"OtherClient":"b","ConnectionID":"","Data":"cHJlZml4"}\n',
            Message(Meta.WATCH, "b", "", b"prefix"),
        ),
        (
            b'{"Meta":14,"OtherClient":"bob","ConnectionID":"","Data":"b25saW5l"}\n',
            Message(Meta.PRESENCE, "bob", "", b"online"),
        ),
        (
            b'{"Meta":15,"OtherClient":"b","ConnectionID":"q1","Data":"Ym9iCmJlYQ=="}\n',
            Message(Meta.LIST, "b", "q1", b"bob\nbea"),
        ),
        (
            b'{"Meta":16,"OtherClient":"bob","ConnectionID":"alice:0","Data":"bm90IGF1dGhvcml6ZWQ="}\n',
            Message(Meta.DENIED, "bob", "alice:0", b"not authorized"),
        ),
        (
            b'{"Meta":17,"OtherClient":"alice","ConnectionID":"",'
            b'"Data":"cmVwbGFjZWQgYnkgYSBuZXdlciBsb2dpbg=="}\n',
            Message(Meta.REPLACED, "alice", "", b"replaced by a newer login"),
        ),
        (
            b'{"Meta":18,"OtherClient":"","ConnectionID":"","Data":"MzAwMA=="}\n',
            Message(Meta.GOING_AWAY, "", "", b"3000"),
        ),
    ],
)
def test_level2_metas_worked_examples(line: bytes, msg: Message) -> None:
    assert decode_json(line) == [msg]
    assert encode_json(msg) == line
    assert decode_binary(encode_binary(msg)) == [msg]


def test_meta_values() -> None:
    assert [m.value for m in Meta] == list(range(19))
    assert (Meta.CREDIT, Meta.DENIED, Meta.GOING_AWAY) == (11, 16, 18)
    assert mpclient.CREDIT_MESSAGE_COST == 64 and mpclient.CREDIT_MAX == 2**31 - 1
    assert mpclient.DEFAULT_WINDOW == 262144 and mpclient.PROTOCOL_LEVEL == 2


# ----------------------------------------------------------------------------
# The login


@pytest.mark.parametrize("fmt", FORMATS)
async def test_announces_level_2_and_reads_the_settings(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        assert session.auth is not None and session.auth.level == 2
        assert client.level == 2 and client.window == 1000 and client.max_watches == 2
        assert client.settings == Settings(2, 1000, 2)
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_level_1_option_announces_nothing(fmt: str) -> None:
    """level=1: the Auth of the 2015 clients, byte for byte, and a
    broker's settings are ignored."""
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake, level=1)
        assert session.auth == Message(Meta.AUTH, "me", "", b"")
        assert session.codec.encode(session.auth) == session.codec.encode(
            Message(Meta.AUTH, "me", "", b"")
        )
        assert client.level == 1 and client.window == 0
        conn = await opened(client, session)
        assert conn.credit is None
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_level_1_broker(fmt: str) -> None:
    """A broker whose AuthOk has no data speaks level 1: no credit (the
    client sends without counting, ignores Credit), no presence."""
    with FakeBroker(fmt) as fake:
        client, session = await level2_client(fake)
        assert client.level == 1 and client.settings == Settings(1, 0, 0)
        conn = await opened(client, session)
        assert conn.credit is None and conn.receive_window == 0
        for _ in range(50):  # far past any window
            conn.send_nowait(b"x" * 1000)
        with pytest.raises(mpclient.LevelRequired):
            conn.grant(10)
        with pytest.raises(mpclient.LevelRequired, match="the broker speaks level 1"):
            await within(client.watch("bob"))
        with pytest.raises(mpclient.LevelRequired):
            await within(client.list(""))
        msgs = await expect(session, 50)
        assert all(m.meta == Meta.DATA for m in msgs)
        # What a level-1 broker would never send is ignored, and an
        # unknown-protocol refusal is what it was.
        session.send(session.frame(Meta.DENIED, "bob", conn.id, b"no"))
        session.send(session.frame(Meta.CREDIT, "bob", conn.id, b"5"))
        session.send(session.frame(Meta.DATA, "bob", conn.id, b"after"))
        assert await within(conn.recv()) == b"after"
        assert not conn.closed and conn.credit is None
        client.abort()


# ----------------------------------------------------------------------------
# Credit: sending


@pytest.mark.parametrize("fmt", FORMATS)
async def test_send_would_block_exactly_when_out_of_credit(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        conn = await opened(client, session)
        assert conn.credit == 1000
        # 100 bytes cost 164: 6 take the credit to 16, still above zero,
        # so a 7th is allowed (to -148); then nothing until a grant.
        for i in range(7):
            conn.send_nowait(b"%03d" % i + b"x" * 97)
        assert conn.credit == 1000 - 7 * 164
        with pytest.raises(mpclient.WouldBlock) as info:
            conn.send_nowait(b"y")
        assert info.value.credit is True
        sent = await expect(session, 7)
        assert [m.data[:3] for m in sent if m.data] == [b"%03d" % i for i in range(7)]

        # send() waits for this connection's credit ...
        waiting = asyncio.ensure_future(conn.send(b"z" * 36))  # costs 100
        await settle()
        assert not waiting.done()
        # ... while another connection of the same client goes on.
        other = await opened(client, session, "carol")
        await within(other.send(b"free"))
        (free,) = await expect(session, 1)
        assert free.data == b"free" and free.connection_id == other.id

        # A grant that leaves the credit at or below zero lets nothing go.
        session.send(session.frame(Meta.CREDIT, "bob", conn.id, b"148"))
        # The client handles the broker's messages in order: once the
        # marker is read, the Credit was.
        session.send(session.frame(Meta.DATA, "carol", other.id, b"marker"))
        assert await within(other.recv()) == b"marker"
        await settle()
        assert conn.credit == 0 and not waiting.done()
        # A malformed one, or one from another peer, changes nothing.
        session.send(session.frame(Meta.CREDIT, "bob", conn.id, b"012"))
        session.send(session.frame(Meta.CREDIT, "mallory", conn.id, b"500"))
        session.send(session.frame(Meta.CREDIT, "bob", conn.id, b"1"))
        await within(waiting)
        assert conn.credit == 1 - 100
        (z,) = await expect(session, 1)
        assert z.data == b"z" * 36
        client.abort()


async def test_send_timeout_without_credit_sends_nothing() -> None:
    with FakeBroker("binary", SETTINGS) as fake:
        client, session = await level2_client(fake)
        conn = await opened(client, session)
        await within(conn.send(b"x" * 2000))  # any message fits any window
        assert conn.credit == 1000 - 2064
        with pytest.raises(TimeoutError):
            await conn.send(b"late", timeout=0.05)
        with pytest.raises(TimeoutError):
            await conn.wait_writable(timeout=0.05)
        # The connection ends: a waiting sender hears of it.
        waiting = asyncio.ensure_future(conn.send(b"never"))
        await settle()
        session.send(session.frame(Meta.CONN_CLOSED, "bob", conn.id))
        with pytest.raises(mpclient.ConnectionClosed):
            await within(waiting)
        (big,) = await expect(session, 1)
        assert big.data == b"x" * 2000
        client.abort()


async def test_wait_writable_after_a_grant() -> None:
    with FakeBroker("json", SETTINGS) as fake:
        client, session = await level2_client(fake)
        conn = await opened(client, session)
        conn.send_nowait(b"x" * 1000)
        with pytest.raises(mpclient.WouldBlock):
            conn.send_nowait(b"x")
        writable = asyncio.ensure_future(conn.wait_writable())
        await settle()
        assert not writable.done()
        session.send(session.frame(Meta.CREDIT, "bob", conn.id, b"1064"))
        await within(writable)
        assert conn.credit == 1000
        conn.send_nowait(b"again")
        client.abort()


# ----------------------------------------------------------------------------
# Credit: receiving


async def accepted(
    client_conns: list[mpclient.Connection], session: FakeSession, conn_id: str = "bob:0"
) -> mpclient.Connection:
    session.send(session.frame(Meta.CONN_SYN, "bob", conn_id, b"p"))
    (ack,) = await expect(session, 1)
    assert ack == Message(Meta.CONN_ACK, "bob", conn_id)
    assert client_conns and client_conns[-1].id == conn_id
    return client_conns[-1]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_automatic_grants_batched_at_half_a_window(fmt: str) -> None:
    conns: list[mpclient.Connection] = []
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake, handlers={"p": conns.append})
        conn = await accepted(conns, session)
        assert conn.receive_window == 1000
        # 36 bytes cost 100: the 5th message taken reaches half the window.
        session.send(
            b"".join(session.frame(Meta.DATA, "bob", conn.id, b"%02d" % i + b"." * 34) for i in range(12))
        )
        for i in range(4):
            assert (await within(conn.recv()))[:2] == b"%02d" % i
        assert conn.consumed == 400
        await within(conn.recv())
        (grant,) = await expect(session, 1)  # nothing was granted before
        assert grant == Message(Meta.CREDIT, "bob", conn.id, b"500")
        assert conn.consumed == 0
        for i in range(5):
            await within(conn.recv())
        (grant,) = await expect(session, 1)
        assert grant.meta == Meta.CREDIT and grant.data == b"500"
        # Received is not consumed: two messages wait in the inbox, not granted.
        await within(conn.send(b"marker"))
        (marker,) = await expect(session, 1)
        assert marker.data == b"marker"
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_manual_grants(fmt: str) -> None:
    conns: list[mpclient.Connection] = []
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake, credit="manual", handlers={"p": conns.append})
        conn = await accepted(conns, session)
        session.send(
            b"".join(session.frame(Meta.DATA, "bob", conn.id, b"." * 36) for i in range(10))
        )
        for _ in range(10):
            await within(conn.recv())
        assert conn.consumed == 1000
        await within(conn.send(b"m1"))  # no Credit came before it
        conn.grant()  # what was taken
        conn.grant(5)
        conn.grant(2147483647)
        conn.grant()  # nothing left to grant: nothing sent
        for bad in (0, -1, 2147483648):
            with pytest.raises(ValueError):
                conn.grant(bad)
        await within(conn.send(b"m2"))
        msgs = await expect(session, 5)
        assert [(m.meta, m.data) for m in msgs] == [
            (Meta.DATA, b"m1"),
            (Meta.CREDIT, b"1000"),
            (Meta.CREDIT, b"5"),
            (Meta.CREDIT, b"2147483647"),
            (Meta.DATA, b"m2"),
        ]
        await within(conn.close())
        with pytest.raises(mpclient.ConnectionClosed):
            conn.grant(1)
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_larger_receive_window_granted_after_syn_and_ack(fmt: str) -> None:
    conns: list[mpclient.Connection] = []
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(
            fake, receive_window=5000, handlers={"p": conns.append}
        )
        opening = asyncio.ensure_future(client.open("bob", "p"))
        syn, credit = await expect(session, 2)
        assert syn.meta == Meta.CONN_SYN
        assert credit == Message(Meta.CREDIT, "bob", syn.connection_id, b"4000")
        session.send(session.frame(Meta.CONN_ACK, "bob", syn.connection_id))
        out = await within(opening)
        assert out.receive_window == 5000 and out.credit == 1000  # sending: the broker's
        # Accepting: the Ack, then the Credit.
        session.send(session.frame(Meta.CONN_SYN, "bob", "bob:7", b"p"))
        ack, credit = await expect(session, 2)
        assert ack == Message(Meta.CONN_ACK, "bob", "bob:7")
        assert credit == Message(Meta.CREDIT, "bob", "bob:7", b"4000")
        # The automatic grant comes at half of the larger window.
        session.send(
            b"".join(session.frame(Meta.DATA, "bob", "bob:7", b"." * 436) for _ in range(5))
        )
        for _ in range(5):
            await within(conns[-1].recv())
        (grant,) = await expect(session, 1)
        assert grant == Message(Meta.CREDIT, "bob", "bob:7", b"2500")
        client.abort()
    # A window smaller than the broker's asks for nothing.
    with FakeBroker("binary", SETTINGS) as fake:
        client, session = await level2_client(fake, receive_window=10)
        conn = await opened(client, session)
        assert conn.receive_window == 1000
        await within(conn.send(b"first"))
        (first,) = await expect(session, 1)
        assert first.meta == Meta.DATA
        client.abort()


async def test_level2_inbox_holds_a_window_without_pausing() -> None:
    """A window of messages waiting for the application does not stop the
    client reading (every connection would wait): the inbox limit is at
    least the window plus one message."""
    conns: list[mpclient.Connection] = []
    settings = b"level=2 window=300000 watches=2"
    with FakeBroker("binary", settings) as fake:
        client, session = await level2_client(
            fake, inbox_limit=10000, handlers={"p": conns.append}
        )
        slow = await accepted(conns, session, "bob:0")
        other = await accepted(conns, session, "bob:1")
        session.send(
            b"".join(session.frame(Meta.DATA, "bob", slow.id, b"." * 936) for _ in range(300))
        )
        session.send(session.frame(Meta.DATA, "bob", other.id, b"through"))
        assert await within(other.recv()) == b"through"
        assert client.paused is None
        client.abort()


# ----------------------------------------------------------------------------
# Presence and List


@pytest.mark.parametrize("fmt", FORMATS)
async def test_watch_unwatch_and_the_cap(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        await within(client.watch("bob"))
        await within(client.watch("bob"))  # held already: not sent again
        await within(client.watch("b", prefix=True))
        assert client.watches == [("b", True), ("bob", False)]
        with pytest.raises(mpclient.MPError, match="too many watches"):
            await within(client.watch("carol"))
        await within(client.unwatch("carol"))  # not watched: nothing sent
        await within(client.unwatch("bob"))
        await within(client.watch("", prefix=True))  # every name
        with pytest.raises(ValueError):
            await within(client.watch("a:b"))
        with pytest.raises(ValueError):
            await within(client.watch("x" * 256, prefix=True))
        msgs = await expect(session, 4)
        assert msgs == [
            Message(Meta.WATCH, "bob"),
            Message(Meta.WATCH, "b", "", b"prefix"),
            Message(Meta.UNWATCH, "bob"),
            Message(Meta.WATCH, "", "", b"prefix"),
        ]
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_presence_notices_merged_per_name(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        await within(client.watch("b", prefix=True))
        (watch,) = await expect(session, 1)
        # A List whose reply follows the notices: once it returns, the
        # client has them all (it handles the broker's messages in order).
        listing = asyncio.ensure_future(client.list("z"))
        (q,) = await expect(session, 1)
        notices = [("bob", b"online"), ("bea", b"online"), ("bob", b"offline"), ("bo", b"bogus")]
        session.send(b"".join(session.frame(Meta.PRESENCE, n, "", s) for n, s in notices))
        session.send(session.frame(Meta.PRESENCE, "bill", "", b"online"))
        session.send(session.frame(Meta.LIST, "z", q.connection_id, None))
        assert await within(listing) == []
        events = []
        async for event in client.presence():
            events.append(event)
            if event.name == "bill":
                break
        # bob's two notices, not yet taken, are one in its last state.
        assert events == [
            mpclient.PresenceEvent("bea", True),
            mpclient.PresenceEvent("bob", False),
            mpclient.PresenceEvent("bill", True),
        ]
        waiting = asyncio.ensure_future(client.next_presence())
        await settle()
        assert not waiting.done()
        client.abort()
        with pytest.raises(mpclient.ConnectionClosed):
            await within(waiting)
        assert [e async for e in client.presence()] == []


@pytest.mark.parametrize("fmt", FORMATS)
async def test_list_accumulates_replies(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        first = asyncio.ensure_future(client.list("b"))
        second = asyncio.ensure_future(client.list(""))
        q1, q2 = await expect(session, 2)
        assert q1.meta == Meta.LIST and q1.other_client == "b" and q1.data is None
        assert q2.other_client == "" and q2.connection_id != q1.connection_id
        replies = [
            (Meta.LIST, "b", q1.connection_id, b"bob\nbea"),
            (Meta.LIST, "", q2.connection_id, b"alice"),
            (Meta.LIST, "zzz", q1.connection_id, b"wrong prefix"),  # ignored
            (Meta.LIST, "b", "list:99", b"no such request"),  # ignored
            (Meta.LIST, "b", q1.connection_id, b"bill"),
            (Meta.LIST, "", q2.connection_id, b"truncated"),  # a name
            (Meta.LIST, "", q2.connection_id, b""),  # the end: names left out
            (Meta.LIST, "b", q1.connection_id, None),
        ]
        session.send(b"".join(session.frame(*r) for r in replies))
        names = await within(first)
        assert sorted(names) == ["bea", "bill", "bob"] and names.truncated is False
        everyone = await within(second)
        assert everyone == ["alice", "truncated"] and everyone.truncated is True
        # An empty list is a lone end.
        third = asyncio.ensure_future(client.list("q"))
        (q3,) = await expect(session, 1)
        session.send(session.frame(Meta.LIST, "q", q3.connection_id, None))
        assert await within(third) == [] and not (await third).truncated
        # A list waiting when the broker goes: BrokerLost.
        fourth = asyncio.ensure_future(client.list("x"))
        await expect(session, 1)
        session.close()
        with pytest.raises(mpclient.BrokerLost):
            await within(fourth)
        with pytest.raises(mpclient.BrokerLost):
            await within(client.list("x"))


# ----------------------------------------------------------------------------
# Denied, Replaced, GoingAway


@pytest.mark.parametrize("fmt", FORMATS)
async def test_denied_is_not_unknown_protocol(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        opening = asyncio.ensure_future(client.open("bob", "secret"))
        (syn,) = await expect(session, 1)
        session.send(session.frame(Meta.DENIED, "bob", syn.connection_id, b"not authorized"))
        with pytest.raises(mpclient.Denied) as info:
            await within(opening)
        assert info.value.reason == "not authorized" and info.value.peer == "bob"
        assert isinstance(info.value, mpclient.OpenError)
        assert not isinstance(info.value, mpclient.UnknownProtocol)
        assert "denied: not authorized" in str(info.value)
        assert client.connections == []
        opening = asyncio.ensure_future(client.open("bob", "nohandler"))
        (syn,) = await expect(session, 1)
        session.send(session.frame(Meta.UNKNOWN_PROTO, "bob", syn.connection_id))
        with pytest.raises(mpclient.UnknownProtocol) as unknown:
            await within(opening)
        assert not isinstance(unknown.value, mpclient.Denied)
        client.abort()


async def test_syn_past_max_connections_is_denied_at_level_2() -> None:
    conns: list[mpclient.Connection] = []
    with FakeBroker("binary", SETTINGS) as fake:
        client, session = await level2_client(
            fake, max_connections=1, handlers={"p": conns.append}
        )
        await accepted(conns, session, "bob:0")
        session.send(session.frame(Meta.CONN_SYN, "bob", "bob:1", b"p"))
        session.send(session.frame(Meta.CONN_SYN, "bob", "bob:2", b"nohandler"))
        refusals = await expect(session, 2)
        assert refusals == [
            Message(Meta.DENIED, "bob", "bob:1", b"too many connections"),
            Message(Meta.UNKNOWN_PROTO, "bob", "bob:2"),
        ]
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_replaced_says_why(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        conn = await opened(client, session)
        await send_all(session, session.frame(Meta.REPLACED, "me", "", b"replaced by a newer login"))
        session.close()
        with pytest.raises(mpclient.Replaced) as info:
            await within(client.wait_closed())
        assert info.value.text == "replaced by a newer login"
        assert isinstance(info.value, mpclient.BrokerLost)
        assert "replaced by a newer login" in str(info.value)
        assert "replaced by a newer login" in (client.lost_reason or "")
        with pytest.raises(mpclient.Replaced):
            await within(conn.recv())
        with pytest.raises(mpclient.Replaced):
            await within(client.open("bob", "p"))


@pytest.mark.parametrize("fmt", FORMATS)
async def test_going_away_carries_the_delay(fmt: str) -> None:
    with FakeBroker(fmt, SETTINGS) as fake:
        client, session = await level2_client(fake)
        conn = await opened(client, session)
        told = asyncio.ensure_future(client.wait_going_away())
        await settle()
        assert not told.done() and client.going_away is None
        session.send(session.frame(Meta.GOING_AWAY, "", "", b"3000"))
        assert await within(told) == 3.0
        assert client.going_away == 3.0
        assert await within(client.wait_going_away()) == 3.0
        # It keeps serving meanwhile.
        await within(conn.send(b"still here"))
        (still,) = await expect(session, 1)
        assert still.data == b"still here"
        session.close()
        with pytest.raises(mpclient.GoingAway) as info:
            await within(client.wait_closed())
        assert info.value.delay == 3.0 and isinstance(info.value, mpclient.BrokerLost)
        with pytest.raises(mpclient.GoingAway):
            await within(conn.recv())


async def test_lost_without_going_away() -> None:
    with FakeBroker("binary", SETTINGS) as fake:
        client, session = await level2_client(fake)
        told = asyncio.ensure_future(client.wait_going_away())
        session.close()
        with pytest.raises(mpclient.BrokerLost) as info:
            await within(told)
        assert type(info.value) is mpclient.BrokerLost


# ----------------------------------------------------------------------------
# The blocking facade


def test_sync_facade_level2() -> None:
    with FakeBroker("binary", SETTINGS) as fake:
        sessions: list[FakeSession] = []
        accepting = threading.Thread(target=lambda: sessions.append(fake.accept_login(T(10))))
        accepting.start()
        with sync.connect(fake.address, "me", b"", timeout=T(10)) as client:
            accepting.join(T(10))
            (session,) = sessions
            assert client.level == 2 and client.window == 1000 and client.max_watches == 2
            result: list[sync.SyncConnection] = []
            opener = threading.Thread(target=lambda: result.append(client.open("bob", "p", timeout=T(5))))
            opener.start()
            (syn,) = session.read(1, T(5))
            session.sock.sendall(session.frame(Meta.CONN_ACK, "bob", syn.connection_id))
            opener.join(T(5))
            (conn,) = result
            conn.send_nowait(b"x" * 1000)
            assert conn.credit == -64
            with pytest.raises(mpclient.WouldBlock):
                conn.send_nowait(b"y")
            with pytest.raises(TimeoutError):
                conn.send(b"y", timeout=0.05)
            session.sock.sendall(session.frame(Meta.CREDIT, "bob", conn.id, b"100"))
            conn.wait_writable(timeout=T(5))
            conn.send(b"z", timeout=T(5))
            assert [m.data for m in session.read(2, T(5))] == [b"x" * 1000, b"z"]
            session.sock.sendall(session.frame(Meta.DATA, "bob", conn.id, b"in"))
            assert conn.recv(timeout=T(5)) == b"in" and conn.consumed == 66
            conn.grant()
            assert session.read(1, T(5)) == [Message(Meta.CREDIT, "bob", conn.id, b"66")]

            client.watch("bob", timeout=T(5))
            assert session.read(1, T(5)) == [Message(Meta.WATCH, "bob")]
            session.sock.sendall(session.frame(Meta.PRESENCE, "bob", "", b"online"))
            assert client.next_presence(timeout=T(5)) == mpclient.PresenceEvent("bob", True)
            with pytest.raises(TimeoutError):
                client.next_presence(timeout=0.05)

            lister = threading.Thread(target=lambda: result.append(client.list("b", timeout=T(5))))
            lister.start()
            (q,) = session.read(1, T(5))
            session.sock.sendall(
                session.frame(Meta.LIST, "b", q.connection_id, b"bob")
                + session.frame(Meta.LIST, "b", q.connection_id, None)
            )
            lister.join(T(5))
            assert result[-1] == ["bob"]

            session.sock.sendall(session.frame(Meta.GOING_AWAY, "", "", b"250"))
            assert client.wait_going_away(timeout=T(5)) == 0.25
            assert client.going_away == 0.25
            client.abort()  # the fake broker would not end a graceful close
