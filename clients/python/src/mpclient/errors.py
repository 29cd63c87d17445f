"""The exceptions of mpclient.

::

    MPError
     +-- ConnectError            the broker could not be reached / no login
     |    +-- TLSError           the TLS handshake failed
     |    +-- ConnectTimeout     no login within connect_timeout (also a TimeoutError)
     +-- AuthError               the broker refused the login: .reason
     |    +-- NameTaken          "name already in use" (duplicate_names = "reject")
     +-- OpenError               Client.open() was refused
     |    +-- NoSuchClient       the peer is not connected (meta 2)
     |    +-- UnknownProtocol    the peer has no handler for it (meta 3)
     |    +-- Denied             level 2: refused, and why: .reason (meta 16)
     +-- ConnectionEnded         a connection (or the client) is over: .reason
     |    +-- ConnectionClosed   closed by the peer, or by this side
     |    +-- PeerLeft           the peer left the broker (ClientClosed, meta 4)
     |    +-- BrokerLost         the broker connection was lost
     |         +-- Replaced      level 2: the name logged in elsewhere (meta 17)
     |         +-- GoingAway     level 2: the broker shut down (meta 18): .delay
     |         +-- Disconnected  reconnecting: open()/request()/... fail at once
     +-- WouldBlock              send_nowait(): no credit, or no room, now
     +-- LevelRequired           a level-2 feature with a level-1 broker
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
    "NameTaken",
    "OpenError",
    "NoSuchClient",
    "UnknownProtocol",
    "Denied",
    "ConnectionEnded",
    "ConnectionClosed",
    "PeerLeft",
    "BrokerLost",
    "Replaced",
    "GoingAway",
    "Disconnected",
    "WouldBlock",
    "LevelRequired",
    "MessageTooBig",
    "DecodeError",
]


class MPError(Exception):
    """The base class of every mpclient exception."""


class ConnectError(MPError):
    """The broker could not be reached, the socket failed during the login,
    or the broker closed it without answering the Auth.

    ``permanent`` is True when trying the same address again cannot help
    (the listener speaks another wire format or is no mpbroker listener;
    a TLS failure): a reconnecting client gives up on it at once."""

    def __init__(self, message: str = "", *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent: bool = permanent


class TLSError(ConnectError):
    """The TLS handshake failed (certificate verification, hostname
    mismatch, a client certificate the broker wants, ...). The
    :class:`ssl.SSLError` is the ``__cause__``. Always ``permanent``."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message, permanent=True)


class ConnectTimeout(ConnectError, TimeoutError):
    """No completed login within ``connect_timeout`` seconds."""


class AuthError(MPError):
    """The broker refused the login with AuthFailure (meta 10).

    ``reason`` is the broker's text, e.g. ``"invalid name or secret"``.
    """

    def __init__(self, reason: str, name: str = "") -> None:
        super().__init__(f"login refused: {reason}{_auth_hint(reason, name)}")
        self.reason: str = reason


class NameTaken(AuthError):
    """The broker refused the login because another session holds the name
    (``"name already in use"``, with the broker's ``duplicate_names =
    "reject"``): at the first login, or when logging in again after a
    broker restart (``reconnect=True``), which then stops: the other
    session is not going away by itself."""


#: The reasons of an AuthFailure that retrying may mend (the broker's
#: throttle of failed logins, a cluster without its registry, a plugin's
#: internal error): they all end so.
RETRY_LATER = "try again later"


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
    handler for the protocol. At protocol level 1 the broker also answers
    so when its ACL or a connection limit refused the Syn (level 2 says
    :class:`Denied` then)."""

    def __init__(self, peer: str, protocol: str) -> None:
        super().__init__(
            f"{peer!r} does not accept protocol {protocol!r}", peer, protocol
        )


class Denied(OpenError):
    """Protocol level 2: the Syn was refused on purpose (Denied, meta 16),
    by the broker (an authorization plugin: ``"not authorized"``; a
    connection limit: ``"too many connections"``) or by the peer itself.
    ``reason`` is the text that came with it. Unlike
    :class:`UnknownProtocol`, it does not mean the peer has no handler."""

    def __init__(self, peer: str, protocol: str, reason: str) -> None:
        super().__init__(
            f"opening {protocol!r} to {peer!r} was denied: {reason or 'no reason given'}",
            peer,
            protocol,
        )
        self.reason: str = reason


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


class Replaced(BrokerLost):
    """Protocol level 2: the broker closed this session because the same
    name logged in again elsewhere (Replaced, meta 17, with the broker's
    ``duplicate_names = "replace"``). ``text`` is the broker's text.
    Do not log in again on your own: the other session would be replaced
    in turn."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"replaced: {reason or 'the name logged in again elsewhere'}")
        self.text: str = reason


class GoingAway(BrokerLost):
    """Protocol level 2: the broker closed the connection after announcing
    that it shuts down (GoingAway, meta 18). ``delay`` is the time, in
    seconds, it announced it would keep serving (connect to another
    broker within it)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"the broker is going away (it announced closing within {delay:g} s)")
        self.delay: float = delay


class Disconnected(BrokerLost):
    """The client lost the broker and is reconnecting (``reconnect=True``):
    :meth:`Client.open`, :meth:`Client.request`, :meth:`Client.watch`,
    :meth:`Client.list` ... fail at once with this until it has logged in
    again; nothing is buffered for later. ``detail`` says why the session
    was lost. A :class:`BrokerLost`, so code that handles the loss of the
    broker handles this too."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            f"reconnecting, nothing is sent meanwhile ({detail or 'the broker was lost'})"
        )


class WouldBlock(MPError):
    """:meth:`Connection.send_nowait` could not send now; nothing was
    queued. ``credit`` is True when the connection has no credit left
    (protocol level 2: wait for the peer's grant, e.g. with
    :meth:`Connection.wait_writable`), False when the client's transport
    is full (the broker does not take what this client writes)."""

    def __init__(self, message: str, credit: bool) -> None:
        super().__init__(message)
        self.credit: bool = credit


class LevelRequired(MPError):
    """A feature of protocol level 2 (presence) with a broker, or a
    client option, at level 1."""


class MessageTooBig(MPError, ValueError):
    """A message whose encoding would exceed ``max_message_size``; nothing
    was sent."""


class DecodeError(MPError, ValueError):
    """Bytes that are not a valid message in the wire format."""
