"""mpclient - a pure-Python (asyncio) client for mpbroker.

mpbroker is a name-routed message broker (a re-creation of the Go library
MessagePasser): clients connect out to one broker, log in with a name and a
secret, and open connections to each other by (peer name, protocol). A
connection is a two-way, ordered stream of whole messages.

::

    import asyncio, mpclient

    async def echo(conn: mpclient.Connection) -> None:
        async for msg in conn:
            await conn.send(msg)

    async def main() -> None:
        async with mpclient.Client("tcp:127.0.0.1:7330", "alice", b"pw",
                                   handlers={"echo": echo}) as client:
            conn = await client.open("bob", "echo")
            await conn.send(b"hi")
            print(await conn.recv())
            await conn.close()
            # Or, in one call, with a peer that uses handle_requests():
            # reply = await client.request("bob", "upper", b"hi", timeout=5)

    asyncio.run(main())

Several broker addresses and ``reconnect=True`` make a client that rides
out a broker restart (see :class:`Client`).

The blocking facade is :mod:`mpclient.sync`; the wire formats are in
:mod:`mpclient.codec`.
"""

from .address import Address, parse_address
from .client import (
    DEFAULT_MAX_MESSAGE_SIZE,
    MESSAGE_OVERHEAD,
    Client,
    Connection,
    Handler,
    NameList,
    PresenceEvent,
    RequestHandler,
    connect,
    reconnect_delay,
    tls_context,
)
from .errors import (
    AuthError,
    BrokerLost,
    ConnectError,
    ConnectionClosed,
    ConnectionEnded,
    ConnectTimeout,
    DecodeError,
    Denied,
    Disconnected,
    GoingAway,
    LevelRequired,
    MessageTooBig,
    MPError,
    NameTaken,
    NoSuchClient,
    OpenError,
    PeerLeft,
    Replaced,
    TLSError,
    UnknownProtocol,
    WouldBlock,
)
from .protocol import (
    CREDIT_MAX,
    CREDIT_MESSAGE_COST,
    DEFAULT_WINDOW,
    NAME_MAX,
    PROTOCOL_LEVEL,
    CloseReason,
    Message,
    Meta,
    Settings,
    check_name,
    parse_settings,
)

__version__ = "0.1.0"

__all__ = [
    "Address",
    "AuthError",
    "BrokerLost",
    "CREDIT_MAX",
    "CREDIT_MESSAGE_COST",
    "Client",
    "CloseReason",
    "ConnectError",
    "ConnectTimeout",
    "Connection",
    "ConnectionClosed",
    "ConnectionEnded",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_WINDOW",
    "DecodeError",
    "Denied",
    "Disconnected",
    "GoingAway",
    "Handler",
    "LevelRequired",
    "MESSAGE_OVERHEAD",
    "MPError",
    "Message",
    "MessageTooBig",
    "Meta",
    "NAME_MAX",
    "NameList",
    "NameTaken",
    "NoSuchClient",
    "OpenError",
    "PROTOCOL_LEVEL",
    "PeerLeft",
    "PresenceEvent",
    "Replaced",
    "RequestHandler",
    "Settings",
    "TLSError",
    "UnknownProtocol",
    "WouldBlock",
    "check_name",
    "connect",
    "parse_address",
    "parse_settings",
    "reconnect_delay",
    "tls_context",
    "__version__",
]
