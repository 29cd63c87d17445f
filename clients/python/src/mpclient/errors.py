"""The exceptions of mpclient.

::

    MPError
     +-- ConnectError            the broker could not be reached / no login
     |    +-- TLSError           the TLS handshake failed
     |    +-- ConnectTimeout     no login within connect_timeout (also a TimeoutError)
     +-- AuthError               the broker refused the login: .reason
     +-- OpenError               Client.open() was refused
     |    +-- NoSuchClient       the peer is not connected (meta 2)
     |    +-- UnknownProtocol    the peer has no handler for it (meta 3)
     +-- ConnectionEnded         a connection (or the client) is over: .reason
     |    +-- ConnectionClosed   closed by the peer, or by this side
     |    +-- PeerLeft           the peer left the broker (ClientClosed, meta 4)
     |    +-- BrokerLost         the broker connection was lost
     +-- MessageTooBig           an encoded message over max_message_size
     +-- DecodeError             bytes that are not a valid message
"""

from __future__ import annotations

from .protocol import CloseReason

__all__ = [
    "MPError",
    "ConnectError",
    "TLSError",
    "ConnectTimeout",
    "AuthError",
    "OpenError",
    "NoSuchClient",
    "UnknownProtocol",
    "ConnectionEnded",
    "ConnectionClosed",
    "PeerLeft",
    "BrokerLost",
    "MessageTooBig",
    "DecodeError",
]


class MPError(Exception):
    """The base class of every mpclient exception."""


class ConnectError(MPError):
    """The broker could not be reached, the socket failed during the login,
    or the broker closed it without answering the Auth."""


class TLSError(ConnectError):
    """The TLS handshake failed (certificate verification, hostname
    mismatch, a client certificate the broker wants, ...). The
    :class:`ssl.SSLError` is the ``__cause__``."""


class ConnectTimeout(ConnectError, TimeoutError):
    """No completed login within ``connect_timeout`` seconds."""


class AuthError(MPError):
    """The broker refused the login with AuthFailure (meta 10).

    ``reason`` is the broker's text, e.g. ``"invalid name or secret"``.
    """

    def __init__(self, reason: str, name: str = "") -> None:
        super().__init__(f"login refused: {reason}{_auth_hint(reason, name)}")
        self.reason: str = reason


def _auth_hint(reason: str, name: str) -> str:
    """What to do about the broker's usual refusals."""
    who = f" {name!r}" if name else ""
    if reason == "invalid name or secret":
        return (
            f" (the broker knows no user{who} with this secret: check the "
            "name and the secret; an admin adds users with mpbroker-passwd)"
        )
    if reason == "name already in use":
        return (
            f" (another client is logged in as{who or ' this name'} and the "
            "broker's duplicate_names is \"reject\": use another name, or "
            "close the other client)"
        )
    return ""


class OpenError(MPError):
    """:meth:`Client.open` was refused. ``peer`` and ``protocol`` say
    what was asked for."""

    def __init__(self, message: str, peer: str, protocol: str) -> None:
        super().__init__(message)
        self.peer: str = peer
        self.protocol: str = protocol


class NoSuchClient(OpenError):
    """The peer is not connected to the broker: the broker bounced the Syn
    with NoSuchConnection (meta 2)."""

    def __init__(self, peer: str, protocol: str) -> None:
        super().__init__(f"no client named {peer!r} is connected", peer, protocol)


class UnknownProtocol(OpenError):
    """The peer refused the Syn with UnknownProto (meta 3): it has no
    handler for the protocol (or the broker's ACL or connection limit
    refused it on its behalf)."""

    def __init__(self, peer: str, protocol: str) -> None:
        super().__init__(
            f"{peer!r} does not accept protocol {protocol!r}", peer, protocol
        )


class ConnectionEnded(MPError):
    """A connection is over. ``reason`` is a :class:`CloseReason`;
    ``detail`` an optional text."""

    def __init__(self, reason: CloseReason, detail: str = "") -> None:
        text = reason.describe()
        if detail:
            text = f"{text}: {detail}"
        super().__init__(text)
        self.reason: CloseReason = reason
        self.detail: str = detail


class ConnectionClosed(ConnectionEnded):
    """The connection was closed, by the peer (``reason`` BY_PEER) or by
    this side (``reason`` LOCAL). Raised by ``send``/``recv`` on such a
    connection; iteration just ends."""


class PeerLeft(ConnectionEnded):
    """The peer disconnected from the broker (ClientClosed, meta 4) while
    the connection was open or being opened."""

    def __init__(self, peer: str) -> None:
        super().__init__(CloseReason.PEER_LEFT, peer)
        self.peer: str = peer


class BrokerLost(ConnectionEnded):
    """The connection to the broker was lost after the login: it stopped,
    the network failed, it closed the socket (e.g. for a newer login with
    the same name), or it sent something undecodable. ``detail`` says
    which."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(CloseReason.BROKER_LOST, detail)


class MessageTooBig(MPError, ValueError):
    """A message whose encoding would exceed ``max_message_size``; nothing
    was sent."""


class DecodeError(MPError, ValueError):
    """Bytes that are not a valid message in the wire format."""
