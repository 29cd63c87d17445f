"""The mpbroker protocol: meta values, the message type and the name rules.

See ``doc/protocol.md`` in the mpbroker source tree for the full text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Meta",
    "CloseReason",
    "Message",
    "NAME_MAX",
    "PROTOCOL_LEVEL",
    "CREDIT_MESSAGE_COST",
    "CREDIT_MAX",
    "DEFAULT_WINDOW",
    "DEFAULT_WATCHES",
    "Settings",
    "parse_settings",
    "parse_credit",
    "check_name",
    "name_error",
]

#: The longest client name or connection id, in bytes of UTF-8.
NAME_MAX = 255

#: The highest protocol level this package speaks: 2 (level 1 is the
#: original's, meta 0-10; level 2 adds meta 11-18: credit, presence and
#: refusals that say what happened).
PROTOCOL_LEVEL = 2

#: Level 2: what a Data message costs against its connection's window,
#: beyond the length of its data (so that empty messages are not free).
CREDIT_MESSAGE_COST = 64

#: Level 2: the largest grant, and the most credit a sender may hold.
CREDIT_MAX = 2147483647

#: Level 2: the window each direction of a connection starts with when the
#: broker's AuthOk does not say (its ``limits.connection_window``).
DEFAULT_WINDOW = 262144


class Meta(enum.IntEnum):
    """What a message is. The numbers are the wire values of the original
    MessagePasser (Go, 2015)."""

    DATA = 0
    """client: a message on an open connection"""
    WAT = 1
    """broker: "I did not understand that message" (data = reason)"""
    NO_SUCH_CONNECTION = 2
    """broker/client: the target client or connection does not exist"""
    UNKNOWN_PROTO = 3
    """client: Syn refused, no handler for that protocol"""
    CLIENT_CLOSED = 4
    """broker: ``other_client`` has disconnected"""
    CONN_SYN = 5
    """client: open connection ``connection_id``; data = protocol name"""
    CONN_ACK = 6
    """client: accept it"""
    CONN_CLOSED = 7
    """client: close it"""
    AUTH = 8
    """client: first message; other_client = own name, data = secret"""
    AUTH_OK = 9
    """broker: other_client = the name now owned"""
    AUTH_FAILURE = 10
    """broker: data = a short reason; then the broker closes the socket"""
    # Level 2: sent to, and accepted from, clients that announced level 2.
    CREDIT = 11
    """level 2, both: data = bytes granted on the connection, decimal"""
    WATCH = 12
    """level 2, client: other_client = a name, or a prefix (data ``prefix``)"""
    UNWATCH = 13
    """level 2, client: end a Watch (same fields)"""
    PRESENCE = 14
    """level 2, broker: other_client went ``online`` or ``offline`` (data)"""
    LIST = 15
    """level 2, client: list the names online under the prefix
    other_client; broker: the reply, names separated by newlines"""
    DENIED = 16
    """level 2, broker (or a Syn's target): Syn refused; data = reason"""
    REPLACED = 17
    """level 2, broker: this name logged in again elsewhere; closing"""
    GOING_AWAY = 18
    """level 2, broker: shutting down; data = milliseconds until it closes"""


class CloseReason(enum.IntEnum):
    """Why a connection ended (the values of libmpclient's
    ``enum mp_close_reason``)."""

    BY_PEER = 1
    """the peer closed it"""
    PEER_LEFT = 2
    """the peer disconnected from the broker (ClientClosed)"""
    BROKER_LOST = 3
    """this client lost the broker"""
    LOCAL = 4
    """this side closed it (:meth:`Connection.close`, or the client was
    closed)"""

    def describe(self) -> str:
        """A short English text for the reason."""
        return _CLOSE_TEXT[self]


_CLOSE_TEXT = {
    CloseReason.BY_PEER: "closed by the peer",
    CloseReason.PEER_LEFT: "the peer left the broker",
    CloseReason.BROKER_LOST: "the broker connection was lost",
    CloseReason.LOCAL: "closed by this side",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One protocol message, as both wire formats carry it.

    ``data`` is ``None`` when absent (JSON ``null``) and ``b""`` when present
    but empty: the two are different on the wire. ``level`` is only ever set
    on an Auth a client sends to announce a protocol level above 1.
    """

    meta: int
    other_client: str = ""
    connection_id: str = ""
    data: bytes | None = None
    level: int | None = None


def name_error(name: str) -> str | None:
    """Why ``name`` is not a valid client name, or ``None`` if it is.

    A name is 1-255 bytes of valid UTF-8 with no ``:`` and no control
    character (below 0x20, or DEL), as the broker requires.
    """
    if not isinstance(name, str):
        return "name is not a str"
    if name == "":
        return "name is empty"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    if len(encoded) > NAME_MAX:
        return "name is longer than 255 bytes"
    for ch in name:
        if ch == ":":
            return "name contains ':'"
        if ch < " " or ch == "\x7f":
            return "name contains a control character"
    return None


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid client name; raise ``ValueError``
    with the reason otherwise."""
    why = name_error(name)
    if why is not None:
        raise ValueError(
            f"invalid client name {name!r}: {why} (a name is 1-255 bytes of "
            "UTF-8 without ':' or control characters: choose another)"
        )
    return name


@dataclass(frozen=True, slots=True)
class Settings:
    """What the broker's AuthOk says (protocol level 2): the ``level`` it
    speaks with this client, the ``window`` each direction of a connection
    starts with (bytes of credit) and the most ``watches`` the client may
    hold. A level-1 AuthOk (no data) is ``Settings(1, 0, 0)``: no credit,
    no presence."""

    level: int = 1
    window: int = 0
    watches: int = 0


#: The settings of a level-1 broker (AuthOk without data).
LEVEL1_SETTINGS = Settings()


def parse_settings(data: bytes | None) -> Settings:
    """The settings in AuthOk's ``data``: ``key=value`` pairs separated by
    spaces, in any order (``level=2 window=262144 watches=64``). Unknown
    keys, and pairs that are not ``key=value`` with a decimal value, are
    ignored; absent data is level 1. A level-2 AuthOk without ``window``
    or ``watches`` gets the broker's defaults (:data:`DEFAULT_WINDOW`, 64
    watches); a window out of range is clamped to 1..:data:`CREDIT_MAX`."""
    if data is None:
        return LEVEL1_SETTINGS
    values: dict[str, int] = {}
    for pair in data.split(b" "):
        key, sep, value = pair.partition(b"=")
        if sep and value.isdigit() and len(value) <= 12:
            values[key.decode("ascii", "replace")] = int(value)
    level = values.get("level", 1)
    if level < 2:
        return LEVEL1_SETTINGS
    window = min(max(values.get("window", DEFAULT_WINDOW), 1), CREDIT_MAX)
    return Settings(level, window, values.get("watches", DEFAULT_WATCHES))


#: The broker's default ``limits.max_watches_per_client``.
DEFAULT_WATCHES = 64


def parse_credit(data: bytes | None) -> int | None:
    """The grant a Credit carries: ``1`` to :data:`CREDIT_MAX`, decimal
    without sign or leading zeros; ``None`` when the data is not one."""
    if data is None or not data.isdigit() or data[:1] == b"0" or len(data) > 10:
        return None
    n = int(data)
    return n if n <= CREDIT_MAX else None
