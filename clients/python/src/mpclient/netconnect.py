"""Connecting to a host name with several addresses: RFC 8305 (Happy
Eyeballs v2), connection attempts only.

A name such as ``localhost`` often resolves to both ``::1`` and
``127.0.0.1``, in the order the machine's ``/etc/hosts`` and
``/etc/gai.conf`` give. A broker may listen on only one of them; an
address may also be unreachable without an answer (a firewall dropping
packets, a dead route), which would take the whole connect timeout.
So every address is tried: the families are interleaved (IPv6, IPv4,
IPv6, ... starting with the family getaddrinfo put first), each attempt
gets :data:`ATTEMPT_DELAY` to itself before the next one is started
alongside it, a failed attempt starts the next one at once, and the first
socket that connects wins (the others are closed). The caller bounds the
whole (its ``connect_timeout``); when every address fails, the error names
each address and why it failed.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ATTEMPT_DELAY", "Attempts", "ConnectFailed", "connect_any"]

#: RFC 8305's recommended "Connection Attempt Delay" (section 5).
ATTEMPT_DELAY = 0.25

_AddrInfo = tuple[int, int, int, str, Any]


def _label(family: int, sockaddr: Any) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


@dataclass
class Attempts:
    """What was tried, in order: ``(address, outcome)``, where outcome is
    the error text, ``"connected"``, or ``"no answer yet"`` while an
    attempt is in flight. Filled in by :func:`connect_any` as it goes, so
    that a caller whose timeout cut it short can still say what it tried."""

    host: str = ""
    results: list[list[str]] = field(default_factory=list)

    def start(self, label: str) -> int:
        self.results.append([label, "no answer yet"])
        return len(self.results) - 1

    def set(self, index: int, outcome: str) -> None:
        self.results[index][1] = outcome

    def describe(self) -> str:
        """``"[::1]:7330: Connection refused; 127.0.0.1:7330: connected"``"""
        return "; ".join(f"{label}: {outcome}" for label, outcome in self.results)


class ConnectFailed(OSError):
    """Every address of the name failed; the message names each one."""


def interleave(infos: list[_AddrInfo]) -> list[_AddrInfo]:
    """RFC 8305 section 4: alternate the address families, starting with
    the family of the first address, keeping getaddrinfo's order within
    each family."""
    families: dict[int, list[_AddrInfo]] = {}
    for info in infos:
        families.setdefault(info[0], []).append(info)
    queues = list(families.values())
    out: list[_AddrInfo] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _error_text(e: BaseException) -> str:
    # asyncio's text repeats the address ("Connect call failed (...)").
    if isinstance(e, OSError) and e.errno:
        return os.strerror(e.errno)
    return str(e) or type(e).__name__


async def _attempt(info: _AddrInfo) -> socket.socket:
    family, type_, proto, _, sockaddr = info
    sock = socket.socket(family, type_, proto)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, sockaddr)
        return sock
    except BaseException:
        sock.close()
        raise


async def connect_any(
    host: str, port: int, attempts: Attempts | None = None, delay: float = ATTEMPT_DELAY
) -> socket.socket:
    """Resolve ``host`` and connect a TCP socket to the first of its
    addresses that answers (see the module's text). Raises
    :class:`ConnectFailed` naming every address tried, or the resolver's
    ``socket.gaierror``. Bound it with a timeout: a cancellation closes
    every socket still connecting. ``attempts`` (optional) is filled in
    as the attempts go."""
    rec = attempts if attempts is not None else Attempts()
    rec.host = host
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    # getaddrinfo may repeat an address (one entry a protocol); once each.
    unique: list[_AddrInfo] = []
    for info in infos:
        if all(info[4] != u[4] for u in unique):
            unique.append(info)
    order = interleave(unique)
    if not order:
        raise ConnectFailed(f"{host} has no address")

    running: dict[asyncio.Task[socket.socket], int] = {}
    next_index = 0
    winner: socket.socket | None = None
    try:
        while winner is None:
            if next_index < len(order):
                info = order[next_index]
                next_index += 1
                slot = rec.start(_label(info[0], info[4]))
                running[asyncio.ensure_future(_attempt(info))] = slot
            if not running:
                break
            # Give the attempts in flight ATTEMPT_DELAY before starting
            # the next address; with none left, wait for them.
            wait_for = delay if next_index < len(order) else None
            done, _ = await asyncio.wait(
                running, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                slot = running.pop(task)
                e = task.exception()
                if e is not None:
                    rec.set(slot, _error_text(e))
                elif winner is None:
                    winner = task.result()
                    rec.set(slot, "connected")
                else:
                    task.result().close()
    finally:
        for task in running:
            task.cancel()
        if running:
            # Collect them (each closes its own socket when cancelled); one
            # that connected in the same instant is closed here.
            for r in await asyncio.gather(*running, return_exceptions=True):
                if isinstance(r, socket.socket):
                    r.close()
    if winner is None:
        if len(order) == 1:
            raise ConnectFailed(rec.describe())
        raise ConnectFailed(
            f"{host} has {len(order)} addresses, every one failed: {rec.describe()}"
        )
    return winner
