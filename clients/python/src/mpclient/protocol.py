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
    "check_name",
    "name_error",
]

#: The longest client name or connection id, in bytes of UTF-8.
NAME_MAX = 255

#: The protocol level this package speaks (the original's: meta 0-10).
PROTOCOL_LEVEL = 1


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
